// Loader: bit-identical batches for any worker count, sampler order, resume, partial batches,
// worker errors, bounded prefetch, shutdown mid-epoch; and to_normalized_float numerics.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

/// Images whose pixels encode their index; get() throws for `bad_index`.
class SyntheticDataset final : public Dataset {
 public:
  SyntheticDataset(int64_t size, int64_t channels, int64_t bad_index = -1)
      : size_(size), channels_(channels), bad_index_(bad_index) {}
  int64_t size() const override { return size_; }
  int64_t channels() const override { return channels_; }
  int64_t num_classes() const override { return 10; }
  Sample get(int64_t index) const override {
    ++gets;
    TORCH_CHECK(index != bad_index_, "bad sample ", index);
    Sample sample;
    sample.image = cv::Mat(20, 24, CV_8UC(static_cast<int>(channels_)));
    for (int r = 0; r < 20; ++r) {
      for (int c = 0; c < 24 * channels_; ++c) {
        sample.image.ptr<uint8_t>(r)[c] = static_cast<uint8_t>((index * 31 + r * 5 + c * 3) % 251);
      }
    }
    sample.label = index % 10;
    return sample;
  }
  std::string describe() const override { return "synthetic"; }
  mutable std::atomic<int64_t> gets{0};

 private:
  int64_t size_;
  int64_t channels_;
  int64_t bad_index_;
};

std::shared_ptr<const ViewPlan> two_views(int64_t size) {
  return std::make_shared<const ViewPlan>(
      std::vector<ViewGroup>{ViewGroup{2, size, AugmentOptions().blur_prob(1.0), true}});
}

std::vector<HostBatch> drain(Loader& loader) {
  std::vector<HostBatch> batches;
  while (auto batch = loader.next()) {
    batches.push_back(std::move(*batch));
  }
  return batches;
}

void expect_same(const HostBatch& a, const HostBatch& b) {
  ASSERT_EQ(a.views.size(), b.views.size());
  for (size_t v = 0; v < a.views.size(); ++v) {
    EXPECT_TRUE(torch::equal(a.views[v], b.views[v])) << "view " << v;
  }
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
}

LoaderOptions options(int64_t workers, bool drop_last = false) {
  return LoaderOptions()
      .batch_size(8)
      .num_workers(workers)
      .prefetch_batches(3)
      .drop_last(drop_last)
      .seed(17);
}

class LoaderTest : public testing::Seeded {};

TEST_F(LoaderTest, SameBytesForAnyWorkerCount) {
  auto dataset = std::make_shared<SyntheticDataset>(50, 3);
  const ShardedSampler sampler(50, 3, true);
  std::vector<std::vector<HostBatch>> runs;
  for (const int64_t workers : {0, 1, 4}) {
    Loader loader(dataset, two_views(16), sampler, options(workers));
    loader.start_epoch(2);
    runs.push_back(drain(loader));
  }
  ASSERT_EQ(runs[0].size(), 7u);  // 6 full batches and one of 2
  for (size_t run = 1; run < runs.size(); ++run) {
    ASSERT_EQ(runs[run].size(), runs[0].size());
    for (size_t b = 0; b < runs[0].size(); ++b) {
      expect_same(runs[0][b], runs[run][b]);
    }
  }
}

TEST_F(LoaderTest, BatchesFollowTheSamplerAndHoldTheViews) {
  auto dataset = std::make_shared<SyntheticDataset>(50, 3);
  const ShardedSampler sampler(50, 3, true, /*rank=*/1, /*world_size=*/2);
  const auto plan = two_views(16);
  Loader loader(dataset, plan, sampler, options(2));
  loader.start_epoch(1);
  const auto batches = drain(loader);
  const auto order = sampler.indices(1);
  ASSERT_EQ(batches.size(), 4u);  // 25 samples: 3 x 8 + 1
  EXPECT_EQ(batches.back().indices.size(0), 1);
  int64_t position = 0;
  for (const HostBatch& batch : batches) {
    ASSERT_EQ(batch.views.size(), 2u);
    EXPECT_EQ(batch.views[0].sizes(), torch::IntArrayRef({batch.indices.size(0), 3, 16, 16}));
    EXPECT_EQ(batch.views[0].scalar_type(), torch::kUInt8);
    EXPECT_TRUE(batch.views[0].is_contiguous());
    for (int64_t i = 0; i < batch.indices.size(0); ++i, ++position) {
      const int64_t index = batch.indices[i].item<int64_t>();
      ASSERT_EQ(index, order[position]);
      EXPECT_EQ(batch.labels[i].item<int64_t>(), index % 10);
      // Pixels are exactly the plan's views for (seed, epoch, index), HWC -> CHW.
      Rng rng(sample_seed(17, 1, static_cast<uint64_t>(index)));
      const auto views = plan->make_views(dataset->get(index).image, rng);
      for (size_t v = 0; v < views.size(); ++v) {
        const auto expected =
            torch::from_blob(views[v].data, {16, 16, 3}, torch::kUInt8).permute({2, 0, 1});
        EXPECT_TRUE(torch::equal(batch.views[v][i], expected)) << "index " << index;
      }
    }
  }
}

TEST_F(LoaderTest, ResumeServesTheRemainingBatches) {
  auto dataset = std::make_shared<SyntheticDataset>(40, 1);
  const ShardedSampler sampler(40, 9, true);
  Loader loader(dataset, two_views(12), sampler, options(3, /*drop_last=*/true));
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  loader.start_epoch(4);
  const auto full = drain(loader);
  ASSERT_EQ(full.size(), 5u);
  EXPECT_FALSE(loader.next().has_value());  // stays at the end
  loader.start_epoch(4, 3);
  const auto rest = drain(loader);
  ASSERT_EQ(rest.size(), 2u);
  expect_same(rest[0], full[3]);
  expect_same(rest[1], full[4]);
  // Abandon an epoch midway, then a fresh epoch matches a fresh loader's.
  loader.start_epoch(5);
  ASSERT_TRUE(loader.next().has_value());
  loader.start_epoch(6);
  const auto six = drain(loader);
  Loader fresh(dataset, two_views(12), sampler, options(0, true));
  fresh.start_epoch(6);
  const auto six_fresh = drain(fresh);
  ASSERT_EQ(six.size(), six_fresh.size());
  for (size_t b = 0; b < six.size(); ++b) expect_same(six[b], six_fresh[b]);
  EXPECT_THROW(loader.start_epoch(0, 6), c10::Error);
}

TEST_F(LoaderTest, PartialLastBatchOnlyWithoutDropLast) {
  auto dataset = std::make_shared<SyntheticDataset>(20, 1);
  const ShardedSampler sampler(20, 0, false);
  Loader keep(dataset, two_views(8), sampler, options(2, /*drop_last=*/false));
  keep.start_epoch(0);
  const auto kept = drain(keep);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2].views[1].size(0), 4);
  EXPECT_TRUE(torch::equal(kept[2].indices, torch::arange(16, 20, torch::kInt64)));
  Loader drop(dataset, two_views(8), sampler, options(2, /*drop_last=*/true));
  drop.start_epoch(0);
  EXPECT_EQ(drain(drop).size(), 2u);
}

TEST_F(LoaderTest, WorkerErrorSurfacesFromNext) {
  for (const int64_t workers : {0, 2}) {
    auto dataset = std::make_shared<SyntheticDataset>(32, 3, /*bad_index=*/13);
    Loader loader(dataset, two_views(8), ShardedSampler(32, 0, false), options(workers));
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());  // batch 0: indices 0..7
    try {
      loader.next();  // batch 1 holds index 13
      ADD_FAILURE() << "expected the bad sample to throw";
    } catch (const c10::Error& e) {
      const std::string message = e.what_without_backtrace();
      EXPECT_NE(message.find("bad sample 13"), std::string::npos) << message;
      EXPECT_NE(message.find("synthetic"), std::string::npos) << message;
    }
    EXPECT_TRUE(loader.next().has_value());  // the loader carries on with batch 2
  }
}

TEST_F(LoaderTest, PrefetchStaysBounded) {
  auto dataset = std::make_shared<SyntheticDataset>(400, 1);
  Loader loader(dataset, two_views(8), ShardedSampler(400, 0, true),
                LoaderOptions().batch_size(4).num_workers(4).prefetch_batches(2).seed(1));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  // After one batch is served, at most batches 1 and 2 may have been started.
  EXPECT_LE(dataset->gets.load(), 3 * 4);
}

TEST_F(LoaderTest, ShutsDownMidEpochAndChecksArguments) {
  auto dataset = std::make_shared<SyntheticDataset>(200, 3);
  {
    Loader loader(dataset, two_views(16), ShardedSampler(200, 0, true), options(4));
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
  }  // joins workers with batches in flight
  {
    Loader idle(dataset, two_views(16), ShardedSampler(200, 0, true), options(2));
    EXPECT_THROW(idle.next(), c10::Error);  // no epoch started
  }
  EXPECT_THROW(
      Loader(dataset, two_views(16), ShardedSampler(200, 0, true), options(2).batch_size(0)),
      c10::Error);
  EXPECT_THROW(
      Loader(dataset, two_views(16), ShardedSampler(5, 0, true), options(2, true).batch_size(8)),
      c10::Error);
}

TEST_F(LoaderTest, RealFashionMnistBatch) {
  if (!std::filesystem::exists(testing::fashion_mnist_root())) GTEST_SKIP();
  std::shared_ptr<const Dataset> dataset = open_dataset(DatasetOptions().limit(64), "train");
  Loader loader(dataset, two_views(28), ShardedSampler(dataset->size(), 0, true),
                options(2, true).batch_size(32));
  loader.start_epoch(0);
  const auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->views[0].sizes(), torch::IntArrayRef({32, 1, 28, 28}));
  EXPECT_GE(batch->labels.min().item<int64_t>(), 0);
  EXPECT_LT(batch->labels.max().item<int64_t>(), 10);
}

TEST_F(LoaderTest, NormalizedFloatNumerics) {
  const auto images = torch::randint(0, 256, {2, 3, 4, 5}, torch::kUInt8);
  const std::vector<double> mean = {0.485, 0.456, 0.406};
  const std::vector<double> std = {0.229, 0.224, 0.225};
  const auto out = to_normalized_float(images, mean, std, torch::kCPU);
  EXPECT_EQ(out.scalar_type(), torch::kFloat);
  EXPECT_EQ(out.sizes(), images.sizes());
  for (int64_t c = 0; c < 3; ++c) {
    const auto expected = (images.select(1, c).to(torch::kDouble) / 255.0 - mean[c]) / std[c];
    EXPECT_TRUE(torch::allclose(out.select(1, c).to(torch::kDouble), expected, 1e-5, 1e-5));
  }
  const auto gray = torch::full({1, 1, 2, 2}, 255, torch::kUInt8);
  EXPECT_TRUE(torch::allclose(to_normalized_float(gray, {0.5}, {0.25}, torch::kCPU),
                              torch::full({1, 1, 2, 2}, 2.0f)));
  // Size-1 statistics broadcast over 3 channels.
  EXPECT_EQ(to_normalized_float(images, {0.5}, {0.5}, torch::kCPU).sizes(), images.sizes());
  EXPECT_THROW(to_normalized_float(images, {0.5, 0.5}, {0.5}, torch::kCPU), c10::Error);
  EXPECT_THROW(to_normalized_float(images, {0.5}, {0.0}, torch::kCPU), c10::Error);
  EXPECT_THROW(to_normalized_float(images.to(torch::kFloat), {0.5}, {0.5}, torch::kCPU),
               c10::Error);
}

}  // namespace
}  // namespace pretext
