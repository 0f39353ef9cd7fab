// HDF5 shards: pack then read gives back the same pixels and labels as the source (encoded
// image files and raw arrays), concurrent reads match sequential ones, ranks split an epoch
// with every sample once, and a damaged shard or manifest is refused by name.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "data/cifar.h"
#include "data/hdf5_shards.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::thrown_message;

PackOptions pack_options(int64_t shard_size, bool raw) {
  PackOptions options;
  options.shard_size = shard_size;
  options.raw = raw;
  return options;
}

class Hdf5ShardsTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = fs::temp_directory_path() /
           ("pretext_hdf5_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cv::setRNGSeed(11);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// 7 images over 2 classes, PNG and JPEG, different sizes.
  std::shared_ptr<ImageFolderDataset> image_folder() {
    for (int i = 0; i < 7; ++i) {
      cv::Mat image(10 + i, 12 + 2 * i, CV_8UC3);
      cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(256));
      const fs::path file = dir_ / "images" / "train" / (i < 3 ? "ant" : "bee") /
                            (std::to_string(i) + (i % 2 ? ".jpg" : ".png"));
      fs::create_directories(file.parent_path());
      EXPECT_TRUE(cv::imwrite(file.string(), image));
    }
    return std::make_shared<ImageFolderDataset>((dir_ / "images").string(), "train");
  }

  static void expect_same_samples(const Dataset& a, const Dataset& b) {
    ASSERT_EQ(a.size(), b.size());
    for (int64_t i = 0; i < a.size(); ++i) {
      const Sample x = a.get(i);
      const Sample y = b.get(i);
      EXPECT_EQ(x.label, y.label) << i;
      ASSERT_EQ(x.image.size(), y.image.size()) << i;
      ASSERT_EQ(x.image.type(), y.image.type()) << i;
      EXPECT_EQ(cv::norm(x.image, y.image, cv::NORM_INF), 0.0) << i;
    }
  }

  fs::path dir_;
};

TEST_F(Hdf5ShardsTest, EncodedRoundTripAndConcurrentReads) {
  const auto folder = image_folder();
  const std::string prefix = (dir_ / "packed" / "set").string();
  const PackResult result = pack_dataset(*folder, prefix, "train", pack_options(3, false));
  EXPECT_EQ(result.samples, 7);
  EXPECT_EQ(result.shards, 3);  // 3 + 3 + 1
  EXPECT_EQ(result.manifest, shard_manifest_path(prefix, "train"));
  const auto packed = open_dataset(DatasetOptions().name("hdf5").root(prefix), "train");
  EXPECT_EQ(packed->num_classes(), 2);
  EXPECT_EQ(packed->channels(), 3);
  expect_same_samples(*folder, *packed);
  EXPECT_NE(packed->source(4).find("set-train-00001.h5 sample 1"), std::string::npos)
      << packed->source(4);

  // Four threads reading everything agree with one.
  std::vector<std::vector<cv::Mat>> seen(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; i < packed->size(); ++i)
        seen[t].push_back(packed->get((i + t) % 7).image);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    for (int64_t i = 0; i < packed->size(); ++i) {
      EXPECT_EQ(cv::norm(seen[t][i], packed->get((i + t) % 7).image, cv::NORM_INF), 0.0);
    }
  }
}

TEST_F(Hdf5ShardsTest, PackRefusesAFileThatWouldNotDecode) {
  image_folder();
  const fs::path empty = dir_ / "images" / "train" / "bee" / "9.jpg";
  std::ofstream(empty).close();
  const ImageFolderDataset folder((dir_ / "images").string(), "train");
  std::string message = thrown_message(
      [&] { pack_dataset(folder, (dir_ / "bad").string(), "train", pack_options(3, false)); });
  EXPECT_NE(message.find(empty.string()), std::string::npos) << message;
  EXPECT_NE(message.find("empty file"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(shard_manifest_path((dir_ / "bad").string(), "train")));

  fs::remove(empty);
  PackOptions small = pack_options(3, false);
  small.decode.max_pixels = 100;  // every image here is larger
  message = thrown_message([&] {
    pack_dataset(ImageFolderDataset((dir_ / "images").string(), "train"), (dir_ / "big").string(),
                 "train", small);
  });
  EXPECT_NE(message.find("over data.max_pixels = 100"), std::string::npos) << message;
}

TEST_F(Hdf5ShardsTest, RawRoundTripAndRanksCoverEverySampleOnce) {
  std::vector<uint8_t> bytes;
  for (int r = 0; r < 10; ++r) {
    bytes.push_back(static_cast<uint8_t>(r % 10));
    for (int p = 0; p < 3072; ++p) bytes.push_back(static_cast<uint8_t>((r * 7 + p * 13) % 256));
  }
  const std::string file = (dir_ / "c.bin").string();
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto cifar =
      std::make_shared<CifarDataset>(std::vector<std::string>{file}, CifarLabels::kCifar10);
  const std::string prefix = (dir_ / "raw").string();
  EXPECT_EQ(pack_dataset(*cifar, prefix, "train", pack_options(4, true)).shards, 3);
  auto packed = std::make_shared<Hdf5ShardDataset>(shard_manifest_path(prefix, "train"));
  EXPECT_EQ(packed->num_classes(), 10);
  expect_same_samples(*cifar, *packed);

  auto plan = std::make_shared<const ViewPlan>(ViewPlan::evaluation(32));
  std::multiset<int64_t> served;
  for (int64_t rank = 0; rank < 2; ++rank) {
    Loader loader(packed, plan, ShardedSampler(10, 3, true, rank, 2, true),
                  LoaderOptions().batch_size(2).num_workers(2).drop_last(false));
    loader.start_epoch(1);
    while (auto batch = loader.next()) {
      for (int64_t i = 0; i < batch->indices.size(0); ++i)
        served.insert(batch->indices[i].item<int64_t>());
    }
  }
  EXPECT_EQ(served.size(), 10u);
  EXPECT_EQ(std::set<int64_t>(served.begin(), served.end()).size(), 10u);
}

TEST_F(Hdf5ShardsTest, DamagedShardOrManifestIsRefusedByName) {
  const auto folder = image_folder();
  const std::string prefix = (dir_ / "set").string();
  pack_dataset(*folder, prefix, "train", pack_options(3, false));
  const std::string manifest = shard_manifest_path(prefix, "train");
  const std::string shard = (dir_ / "set-train-00001.h5").string();
  std::string original;
  {
    std::ifstream in(shard, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string flipped = original;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x40);
  std::ofstream(shard, std::ios::binary | std::ios::trunc) << flipped;
  std::string message = thrown_message([&] { Hdf5ShardDataset{manifest}; });
  EXPECT_NE(message.find(shard), std::string::npos) << message;
  EXPECT_NE(message.find("corrupt"), std::string::npos) << message;

  std::ofstream(shard, std::ios::binary | std::ios::trunc)
      << original.substr(0, original.size() - 5);
  message = thrown_message([&] { Hdf5ShardDataset{manifest}; });
  EXPECT_NE(message.find(shard), std::string::npos) << message;

  std::ofstream(shard, std::ios::binary | std::ios::trunc) << original;
  EXPECT_EQ(Hdf5ShardDataset(manifest).size(), 7);  // intact again

  std::string text;
  {
    std::ifstream in(manifest);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A shard line dropped: the counts no longer add up.
  const size_t last = text.rfind("shard ");
  std::ofstream(manifest, std::ios::trunc) << text.substr(0, last);
  message = thrown_message([&] { Hdf5ShardDataset{manifest}; });
  EXPECT_NE(message.find(manifest), std::string::npos) << message;
  EXPECT_NE(message.find("declares 7 samples"), std::string::npos) << message;

  std::ofstream(manifest, std::ios::trunc) << text << "bogus line\n";
  message = thrown_message([&] { Hdf5ShardDataset{manifest}; });
  EXPECT_NE(message.find("bogus line"), std::string::npos) << message;

  fs::remove(shard);
  std::ofstream(manifest, std::ios::trunc) << text;
  message = thrown_message([&] { Hdf5ShardDataset{manifest}; });
  EXPECT_NE(message.find(shard), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

}  // namespace
}  // namespace pretext
