// Feature extraction: shape, row order and labels through the real Loader, eval mode and its
// restoration, raw-pixel features, and the multi-rank gather with an in-process communicator.
#include "evaluation/features.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "models/backbone.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using FeaturesTest = testing::Seeded;

constexpr int64_t kSide = 4;

/// Sample i: a kSide x kSide grayscale image filled with 10 * i + (pixel position), label i % 3.
class TinyDataset final : public Dataset {
 public:
  explicit TinyDataset(int64_t size) : size_(size) {}
  int64_t size() const override { return size_; }
  int64_t channels() const override { return 1; }
  int64_t num_classes() const override { return 3; }
  Sample get(int64_t index) const override {
    cv::Mat image(kSide, kSide, CV_8UC1);
    for (int r = 0; r < kSide; ++r) {
      for (int c = 0; c < kSide; ++c) {
        image.at<uint8_t>(r, c) = static_cast<uint8_t>(10 * index + r * kSide + c);
      }
    }
    return {image, index % 3};
  }
  std::string describe() const override { return "tiny"; }

 private:
  int64_t size_;
};

/// Expected pixels of sample i, as float in [0, 1], flattened.
torch::Tensor pixels_of(int64_t index) {
  return (torch::arange(kSide * kSide, torch::kFloat) + 10.0 * index) / 255.0;
}

/// Identity "backbone" that records whether it ran in training mode.
class FlattenBackbone final : public Backbone {
 public:
  torch::Tensor forward(const torch::Tensor& images) override {
    saw_training = saw_training || is_training();
    if (fail) {
      throw std::runtime_error("forward failed");
    }
    return images.flatten(1);
  }
  int64_t feature_dim() const override { return kSide * kSide; }
  std::string arch() const override { return "flatten"; }
  bool saw_training = false;
  bool fail = false;
};

std::unique_ptr<Loader> make_loader(int64_t size, int64_t batch_size, bool shuffle,
                                    int64_t rank = 0, int64_t world_size = 1) {
  return std::make_unique<Loader>(
      std::make_shared<TinyDataset>(size), std::make_shared<ViewPlan>(ViewPlan::evaluation(kSide)),
      ShardedSampler(size, /*seed=*/7, shuffle, rank, world_size, /*drop_last=*/false),
      LoaderOptions().batch_size(batch_size).num_workers(2).drop_last(false));
}

TEST_F(FeaturesTest, ExtractsEverySampleInIndexOrder) {
  for (const bool shuffle : {false, true}) {
    auto loader = make_loader(10, 4, shuffle);  // batches of 4, 4, 2
    FlattenBackbone backbone;
    LocalComm comm;
    const auto out =
        extract_features(backbone, *loader, {0.5}, {0.25}, torch::Device(torch::kCPU), comm);
    ASSERT_EQ(out.features.sizes(), torch::IntArrayRef({10, kSide * kSide}));
    EXPECT_EQ(out.features.scalar_type(), torch::kFloat);
    EXPECT_EQ(out.labels.scalar_type(), torch::kLong);
    for (int64_t i = 0; i < 10; ++i) {
      EXPECT_TRUE(torch::allclose(out.features[i], (pixels_of(i) - 0.5) / 0.25, 1e-5, 1e-5))
          << "row " << i << " shuffle " << shuffle;
      EXPECT_EQ(out.labels[i].item<int64_t>(), i % 3);
    }
    EXPECT_FALSE(backbone.saw_training);
  }
}

TEST_F(FeaturesTest, RestoresTrainingFlag) {
  auto loader = make_loader(5, 2, false);
  LocalComm comm;
  FlattenBackbone backbone;
  backbone.train();
  extract_features(backbone, *loader, {0.0}, {1.0}, torch::Device(torch::kCPU), comm);
  EXPECT_TRUE(backbone.is_training());
  EXPECT_FALSE(backbone.saw_training);
  backbone.eval();
  extract_features(backbone, *loader, {0.0}, {1.0}, torch::Device(torch::kCPU), comm);
  EXPECT_FALSE(backbone.is_training());
  // Also when the forward pass throws.
  backbone.train();
  backbone.fail = true;
  EXPECT_THROW(extract_features(backbone, *loader, {0.0}, {1.0}, torch::Device(torch::kCPU), comm),
               std::runtime_error);
  EXPECT_TRUE(backbone.is_training());
}

TEST_F(FeaturesTest, ResNetFeaturesWithoutGrad) {
  auto loader = make_loader(6, 4, true);
  auto backbone = make_backbone(BackboneOptions().stem("small").in_channels(1).width(0.25));
  LocalComm comm;
  const auto out =
      extract_features(*backbone, *loader, {0.5}, {0.5}, torch::Device(torch::kCPU), comm);
  EXPECT_EQ(out.features.sizes(), torch::IntArrayRef({6, backbone->feature_dim()}));
  EXPECT_FALSE(out.features.requires_grad());
  EXPECT_TRUE(backbone->is_training());
  EXPECT_TRUE(torch::equal(out.labels, torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong)));
}

TEST_F(FeaturesTest, BatchNormUsesRunningStatisticsAndIsDeterministic) {
  auto backbone = make_backbone(BackboneOptions().stem("small").in_channels(1).width(0.25));
  {
    // Move the running statistics away from their initial values.
    torch::NoGradGuard no_grad;
    backbone->train();
    backbone->forward(torch::rand({8, 1, kSide, kSide}) * 3.0 + 1.0);
  }
  LocalComm comm;
  auto batched = make_loader(6, 4, true);
  auto one_by_one = make_loader(6, 1, true);
  const auto device = torch::Device(torch::kCPU);
  const auto a = extract_features(*backbone, *batched, {0.5}, {0.5}, device, comm);
  const auto b = extract_features(*backbone, *one_by_one, {0.5}, {0.5}, device, comm);
  const auto again = extract_features(*backbone, *batched, {0.5}, {0.5}, device, comm);
  // Batch statistics would make a sample's features depend on its batch-mates.
  EXPECT_TRUE(torch::allclose(a.features, b.features, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(a.features, again.features));
}

TEST_F(FeaturesTest, PixelFeatures) {
  auto loader = make_loader(7, 3, true);
  const auto out = pixel_features(*loader);
  ASSERT_EQ(out.features.sizes(), torch::IntArrayRef({7, kSide * kSide}));
  for (int64_t i = 0; i < 7; ++i) {
    EXPECT_TRUE(torch::allclose(out.features[i], pixels_of(i))) << "row " << i;
    EXPECT_EQ(out.labels[i].item<int64_t>(), i % 3);
  }
}

/// World of threads: all_gather concatenates every rank's tensor in rank order.
class ThreadComm final : public Comm {
 public:
  struct Shared {
    explicit Shared(int64_t world) : slots(static_cast<size_t>(world)) {}
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<torch::Tensor> slots;
    int64_t arrived = 0;
    int64_t generation = 0;
    bool aborted = false;  // a rank failed: wake the others instead of leaving them blocked
  };
  ThreadComm(std::shared_ptr<Shared> shared, int64_t rank)
      : shared_(std::move(shared)), rank_(rank) {}

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return static_cast<int64_t>(shared_->slots.size()); }
  void all_reduce_sum(std::vector<torch::Tensor>& /*tensors*/) override {
    throw std::logic_error("not used");
  }
  torch::Tensor all_gather(const torch::Tensor& tensor) override {
    shared_->slots[static_cast<size_t>(rank_)] = tensor.detach().clone();
    barrier();
    const auto out = torch::cat(shared_->slots);
    barrier();  // nobody overwrites a slot before every rank has read them all
    return out;
  }
  void broadcast(std::vector<torch::Tensor>& /*tensors*/, int64_t /*root*/) override {
    throw std::logic_error("not used");
  }
  void barrier() override {
    std::unique_lock<std::mutex> lock(shared_->mutex);
    const int64_t generation = shared_->generation;
    if (++shared_->arrived == world_size()) {
      shared_->arrived = 0;
      ++shared_->generation;
      shared_->cv.notify_all();
    } else {
      shared_->cv.wait(lock, [&] { return shared_->generation != generation || shared_->aborted; });
    }
    if (shared_->aborted) {
      throw std::runtime_error("ThreadComm: another rank failed");
    }
  }
  void abort() override {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->aborted = true;
    shared_->cv.notify_all();
  }

 private:
  std::shared_ptr<Shared> shared_;
  int64_t rank_;
};

TEST_F(FeaturesTest, GathersAcrossRanksAndDropsPadding) {
  // 11 samples over 3 ranks: 4 each, one sample served twice by the sampler's padding.
  const int64_t world = 3;
  auto shared = std::make_shared<ThreadComm::Shared>(world);
  std::vector<Features> results(world);
  std::vector<std::string> errors(world);
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        auto loader = make_loader(11, 3, /*shuffle=*/true, rank, world);
        FlattenBackbone backbone;
        ThreadComm comm(shared, rank);
        results[rank] =
            extract_features(backbone, *loader, {0.0}, {1.0}, torch::Device(torch::kCPU), comm);
      } catch (const std::exception& e) {
        errors[rank] = e.what();
        ThreadComm(shared, rank).abort();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int64_t rank = 0; rank < world; ++rank) {
    ASSERT_EQ(errors[rank], "") << "rank " << rank;
    const Features& out = results[rank];
    ASSERT_EQ(out.features.sizes(), torch::IntArrayRef({11, kSide * kSide})) << "rank " << rank;
    for (int64_t i = 0; i < 11; ++i) {
      EXPECT_TRUE(torch::allclose(out.features[i], pixels_of(i), 1e-5, 1e-5))
          << "rank " << rank << " row " << i;
      EXPECT_EQ(out.labels[i].item<int64_t>(), i % 3);
    }
  }
}

}  // namespace
}  // namespace pretext
