// IDX reading and open_dataset: the real Fashion-MNIST files, plain and gzip files written
// here, and the refusals (truncation, wrong magic, count mismatch, unknown names).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <zlib.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;

using testing::thrown_message;

std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (const uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<uint8_t>(d >> shift));
    }
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

void write_plain(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(file);
}

class IdxTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = testing::unique_temp_path("pretext_idx_test");
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Three 2x3 images with pixel values 0..17 and labels {7, 0, 9}.
  void write_tiny(const std::string& prefix, bool gzip) {
    std::vector<uint8_t> pixels(18);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
    const auto images = idx_bytes({3, 2, 3}, pixels);
    const auto labels = idx_bytes({3}, {7, 0, 9});
    const std::string suffix = gzip ? ".gz" : "";
    auto write = gzip ? write_gzip : write_plain;
    write(path(prefix + "-images-idx3-ubyte" + suffix), images);
    write(path(prefix + "-labels-idx1-ubyte" + suffix), labels);
  }

  fs::path dir_;
};

bool have_fashion_mnist() {
  return fs::exists(testing::fashion_mnist_root() + "/train-images-idx3-ubyte.gz");
}

TEST_F(IdxTest, RealFashionMnistTrainAndTest) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  DatasetOptions options;
  options.root(testing::fashion_mnist_root());
  const auto train = open_dataset(options, "train");
  const auto test = open_dataset(options, "test");
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(train->channels(), 1);
  EXPECT_EQ(train->num_classes(), 10);
  const Sample first = train->get(0);
  EXPECT_EQ(first.image.rows, 28);
  EXPECT_EQ(first.image.cols, 28);
  EXPECT_EQ(first.image.type(), CV_8UC1);
  EXPECT_EQ(first.label, 9);  // the first training image is an ankle boot
  const IdxArray labels = read_idx(testing::fashion_mnist_root() + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.dims, std::vector<int64_t>({10000}));
  EXPECT_EQ(labels.data.min().item<int64_t>(), 0);
  EXPECT_EQ(labels.data.max().item<int64_t>(), 9);
  // Balanced classes: 1,000 of each in the test split.
  EXPECT_TRUE(torch::bincount(labels.data.to(torch::kLong)).eq(1000).all().item<bool>());
  EXPECT_NE(train->describe().find("train-images-idx3-ubyte.gz"), std::string::npos);
}

TEST_F(IdxTest, LimitTakesTheFirstSamples) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto full = open_dataset(DatasetOptions(), "test");
  const auto small = open_dataset(DatasetOptions().limit(100), "test");
  ASSERT_EQ(small->size(), 100);
  for (const int64_t i : {0, 57, 99}) {
    EXPECT_EQ(cv::norm(small->get(i).image, full->get(i).image, cv::NORM_INF), 0.0);
    EXPECT_EQ(small->get(i).label, full->get(i).label);
  }
  EXPECT_THROW(small->get(100), c10::Error);
}

TEST_F(IdxTest, ReadsPlainFilesAndDetectsGzipByMagic) {
  write_tiny("train", /*gzip=*/false);
  DatasetOptions options;
  options.name("mnist").root(dir_.string());
  const auto dataset = open_dataset(options, "train");
  ASSERT_EQ(dataset->size(), 3);
  const Sample second = dataset->get(1);
  EXPECT_EQ(second.label, 0);
  ASSERT_EQ(second.image.rows, 2);
  ASSERT_EQ(second.image.cols, 3);
  EXPECT_EQ(second.image.at<uint8_t>(1, 2), 11);

  // gzip content under a name without .gz is still recognised.
  write_gzip(path("no_extension"), idx_bytes({2, 2}, {1, 2, 3, 4}));
  const IdxArray array = read_idx(path("no_extension"));
  EXPECT_EQ(array.dims, std::vector<int64_t>({2, 2}));
  EXPECT_TRUE(torch::equal(array.data, torch::tensor({1, 2, 3, 4}, torch::kUInt8).view({2, 2})));
}

TEST_F(IdxTest, TruncatedFileNamesPathAndOffset) {
  auto bytes = idx_bytes({3, 2, 3}, std::vector<uint8_t>(18, 5));
  bytes.resize(16 + 10);
  write_plain(path("short"), bytes);
  const std::string message = thrown_message([&] { read_idx(path("short")); });
  EXPECT_NE(message.find(path("short")), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 26"), std::string::npos) << message;

  // A gzip stream cut short is refused too.
  write_gzip(path("full.gz"), idx_bytes({100, 10}, std::vector<uint8_t>(1000, 3)));
  std::ifstream in(path("full.gz"), std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  write_plain(path("cut.gz"), gz);
  const std::string gz_message = thrown_message([&] { read_idx(path("cut.gz")); });
  EXPECT_NE(gz_message.find(path("cut.gz")), std::string::npos) << gz_message;
}

TEST_F(IdxTest, WrongMagicAndTrailingBytesAreRefused) {
  write_plain(path("bad_magic"), {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 42});
  const std::string message = thrown_message([&] { read_idx(path("bad_magic")); });
  EXPECT_NE(message.find(path("bad_magic")), std::string::npos) << message;
  EXPECT_NE(message.find("magic"), std::string::npos) << message;

  write_plain(path("float_type"), {0, 0, 0x0D, 0x01, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_NE(thrown_message([&] { read_idx(path("float_type")); }).find("type 13"),
            std::string::npos);

  auto bytes = idx_bytes({2}, {1, 2});
  bytes.push_back(0);
  write_plain(path("long"), bytes);
  EXPECT_NE(thrown_message([&] { read_idx(path("long")); }).find("trailing"), std::string::npos);

  const std::string missing = thrown_message([&] { read_idx(path("absent")); });
  EXPECT_NE(missing.find(path("absent")), std::string::npos) << missing;
}

TEST_F(IdxTest, ImageAndLabelCountsMustMatch) {
  write_plain(path("images"), idx_bytes({3, 2, 2}, std::vector<uint8_t>(12, 1)));
  write_plain(path("labels"), idx_bytes({2}, {0, 1}));
  const std::string message =
      thrown_message([&] { IdxDataset(path("images"), path("labels"), 10); });
  EXPECT_NE(message.find("3 images"), std::string::npos) << message;
  EXPECT_NE(message.find("2 labels"), std::string::npos) << message;

  write_plain(path("labels_big"), idx_bytes({3}, {0, 1, 12}));
  EXPECT_NE(
      thrown_message([&] { IdxDataset(path("images"), path("labels_big"), 10); }).find("label 12"),
      std::string::npos);
}

TEST_F(IdxTest, UnknownNamesAndMissingFilesAreExplained) {
  const std::string name =
      thrown_message([] { open_dataset(DatasetOptions().name("cifar"), "train"); });
  EXPECT_NE(name.find("fashion_mnist, mnist"), std::string::npos) << name;
  const std::string split = thrown_message([] { open_dataset(DatasetOptions(), "val"); });
  EXPECT_NE(split.find("train, test"), std::string::npos) << split;
  const std::string missing =
      thrown_message([&] { open_dataset(DatasetOptions().root(dir_.string()), "test"); });
  EXPECT_NE(missing.find(path("t10k-images-idx3-ubyte")), std::string::npos) << missing;
}

}  // namespace
}  // namespace pretext
