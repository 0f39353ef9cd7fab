// CIFAR-10, CIFAR-100 and STL-10 readers on small files written here in the official binary
// layouts. Pixels are checked against the layout formulas written out naively, STL-10 also
// against torchvision's own STL10 loader (reshape + transpose) run by pretext's Python; the
// refusals name the file and the byte offset.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/dataset.h"
#include "data/stl10.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::thrown_message;

/// A deterministic byte for (file seed, position) that is not constant over any axis.
uint8_t byte_at(int seed, int64_t position) {
  return static_cast<uint8_t>((position * 131 + seed * 17 + position / 7) % 251);
}

class RecordFilesTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = fs::temp_directory_path() /
           ("pretext_record_files_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& relative, const std::vector<uint8_t>& bytes) {
    const fs::path file = dir_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return file.string();
  }

  /// `records` CIFAR records; labels come from `labels(record, k)` for the k-th label byte.
  static std::vector<uint8_t> cifar_records(int seed, int records, int label_bytes,
                                            const std::function<int(int, int)>& labels) {
    std::vector<uint8_t> bytes;
    for (int r = 0; r < records; ++r) {
      for (int k = 0; k < label_bytes; ++k) bytes.push_back(static_cast<uint8_t>(labels(r, k)));
      for (int p = 0; p < 3072; ++p) bytes.push_back(byte_at(seed, r * 3072 + p));
    }
    return bytes;
  }

  /// The pixel (row, col, channel) of record r per the CIFAR layout: planes R, G, B, row-major.
  static uint8_t cifar_pixel(int seed, int r, int row, int col, int channel) {
    return byte_at(seed, r * 3072 + channel * 1024 + row * 32 + col);
  }

  fs::path dir_;
};

TEST_F(RecordFilesTest, Cifar10ReadsEveryBatchInOrder) {
  // Three records per batch: labels (batch + record) % 10, so file order is visible.
  for (int b = 1; b <= 5; ++b) {
    write("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin",
          cifar_records(b, 3, 1, [b](int r, int) { return (b + r) % 10; }));
  }
  write("cifar-10-batches-bin/test_batch.bin",
        cifar_records(9, 2, 1, [](int r, int) { return 9 - r; }));
  const auto train = open_dataset(DatasetOptions().name("cifar10").root(dir_.string()), "train");
  ASSERT_EQ(train->size(), 15);
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(train->channels(), 3);
  for (int64_t i = 0; i < train->size(); ++i) {
    const int b = static_cast<int>(i / 3) + 1;
    const int r = static_cast<int>(i % 3);
    const Sample sample = train->get(i);
    EXPECT_EQ(sample.label, (b + r) % 10) << i;
    ASSERT_EQ(sample.image.type(), CV_8UC3);
    ASSERT_EQ(sample.image.rows, 32);
    ASSERT_EQ(sample.image.cols, 32);
    for (int row = 0; row < 32; row += 5) {
      for (int col = 0; col < 32; col += 3) {
        const cv::Vec3b rgb = sample.image.at<cv::Vec3b>(row, col);
        for (int c = 0; c < 3; ++c) {
          ASSERT_EQ(rgb[c], cifar_pixel(b, r, row, col, c)) << i << " " << row << "," << col;
        }
      }
    }
  }
  EXPECT_NE(train->source(4).find("data_batch_2.bin record 1 (byte offset 3073)"),
            std::string::npos)
      << train->source(4);
  const auto test = open_dataset(DatasetOptions().name("cifar10").root(dir_.string()), "test");
  ASSERT_EQ(test->size(), 2);
  EXPECT_EQ(test->get(1).label, 8);
  EXPECT_EQ(test->get(1).image.at<cv::Vec3b>(31, 31)[2], cifar_pixel(9, 1, 31, 31, 2));
  EXPECT_EQ(
      open_dataset(DatasetOptions().name("cifar10").root(dir_.string()).limit(4), "train")->size(),
      4);
  EXPECT_THROW(train->get(15), c10::Error);
}

TEST_F(RecordFilesTest, Cifar100FineAndCoarseLabels) {
  // Record r: coarse label r % 20, fine label (3 r + 1) % 100.
  const auto labels = [](int r, int k) { return k == 0 ? r % 20 : (3 * r + 1) % 100; };
  write("train.bin", cifar_records(4, 25, 2, labels));
  write("test.bin", cifar_records(5, 1, 2, labels));
  const auto fine = open_dataset(DatasetOptions().name("cifar100").root(dir_.string()), "train");
  const auto coarse = open_dataset(
      DatasetOptions().name("cifar100").root(dir_.string()).cifar100_labels("coarse"), "train");
  EXPECT_EQ(fine->num_classes(), 100);
  EXPECT_EQ(coarse->num_classes(), 20);
  ASSERT_EQ(fine->size(), 25);
  for (int r = 0; r < 25; ++r) {
    EXPECT_EQ(fine->get(r).label, (3 * r + 1) % 100);
    EXPECT_EQ(coarse->get(r).label, r % 20);
    // Two label bytes before the pixels.
    EXPECT_EQ(fine->get(r).image.at<cv::Vec3b>(7, 30)[1], cifar_pixel(4, r, 7, 30, 1));
  }
  const std::string message = thrown_message([&] {
    open_dataset(DatasetOptions().name("cifar100").root(dir_.string()).cifar100_labels("both"),
                 "train");
  });
  EXPECT_NE(message.find("cifar100_labels"), std::string::npos) << message;
}

TEST_F(RecordFilesTest, CifarRefusalsNameFileAndOffset) {
  auto bytes = cifar_records(1, 3, 1, [](int, int) { return 1; });
  bytes.resize(bytes.size() - 10);
  const std::string truncated = write("short.bin", bytes);
  std::string message = thrown_message([&] { CifarDataset({truncated}, CifarLabels::kCifar10); });
  EXPECT_NE(message.find(truncated), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 6146"), std::string::npos) << message;

  const std::string bad_label =
      write("label.bin", cifar_records(1, 3, 1, [](int r, int) { return r == 2 ? 10 : 0; }));
  message = thrown_message([&] { CifarDataset({bad_label}, CifarLabels::kCifar10); });
  EXPECT_NE(message.find(bad_label), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 6146"), std::string::npos) << message;
  EXPECT_NE(message.find("label 10"), std::string::npos) << message;

  // A CIFAR-10 file read as CIFAR-100: the fine label byte is a pixel, usually >= 100.
  const std::string coarse_bad =
      write("c100.bin", cifar_records(1, 2, 2, [](int r, int k) { return k == 0 ? 25 : 3; }));
  message = thrown_message([&] { CifarDataset({coarse_bad}, CifarLabels::kCifar100Fine); });
  EXPECT_NE(message.find("coarse label 25"), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 0"), std::string::npos) << message;

  const std::string empty = write("empty.bin", {});
  message = thrown_message([&] { CifarDataset({empty}, CifarLabels::kCifar10); });
  EXPECT_NE(message.find(empty), std::string::npos) << message;
  EXPECT_NE(message.find("empty"), std::string::npos) << message;

  message = thrown_message(
      [&] { open_dataset(DatasetOptions().name("cifar10").root(dir_.string()), "train"); });
  EXPECT_NE(message.find((dir_ / "data_batch_1.bin").string()), std::string::npos) << message;
  EXPECT_NE(message.find("cifar-10-batches-bin"), std::string::npos) << message;
}

/// STL-10 X bytes for `count` images; the labels file holds (i % 10) + 1.
std::vector<uint8_t> stl10_images(int seed, int count) {
  std::vector<uint8_t> bytes(static_cast<size_t>(count) * 27648);
  for (size_t p = 0; p < bytes.size(); ++p) bytes[p] = byte_at(seed, static_cast<int64_t>(p));
  return bytes;
}
std::vector<uint8_t> stl10_labels(int count) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < count; ++i) bytes.push_back(static_cast<uint8_t>(i % 10 + 1));
  return bytes;
}

TEST_F(RecordFilesTest, Stl10PlanesAreColumnMajor) {
  write("stl10_binary/train_X.bin", stl10_images(1, 3));
  write("stl10_binary/train_y.bin", stl10_labels(3));
  write("stl10_binary/test_X.bin", stl10_images(2, 2));
  write("stl10_binary/test_y.bin", stl10_labels(2));
  write("stl10_binary/unlabeled_X.bin", stl10_images(3, 4));
  const auto train = open_dataset(DatasetOptions().name("stl10").root(dir_.string()), "train");
  ASSERT_EQ(train->size(), 3);
  EXPECT_EQ(train->num_classes(), 10);
  for (int i = 0; i < 3; ++i) {
    const Sample sample = train->get(i);
    EXPECT_EQ(sample.label, i % 10);
    ASSERT_EQ(sample.image.rows, 96);
    ASSERT_EQ(sample.image.cols, 96);
    for (int row = 0; row < 96; row += 7) {
      for (int col = 0; col < 96; col += 5) {
        for (int c = 0; c < 3; ++c) {
          // Plane c, column-major: (row, col) at col * 96 + row.
          ASSERT_EQ(sample.image.at<cv::Vec3b>(row, col)[c],
                    byte_at(1, i * 27648 + c * 9216 + col * 96 + row))
              << i << " " << row << "," << col << "," << c;
        }
      }
    }
  }
  const auto both = open_dataset(
      DatasetOptions().name("stl10").root(dir_.string()).stl10_train_split("train+unlabeled"),
      "train");
  ASSERT_EQ(both->size(), 7);
  EXPECT_EQ(both->get(2).label, 2);
  EXPECT_EQ(both->get(3).label, -1);
  EXPECT_NE(both->source(4).find("unlabeled_X.bin image 1 (byte offset 27648)"), std::string::npos)
      << both->source(4);
  EXPECT_EQ(open_dataset(
                DatasetOptions().name("stl10").root(dir_.string()).stl10_train_split("unlabeled"),
                "train")
                ->size(),
            4);
  EXPECT_EQ(open_dataset(DatasetOptions().name("stl10").root(dir_.string()), "test")->size(), 2);
}

TEST_F(RecordFilesTest, Stl10MatchesTorchvisionLoader) {
  write("stl10_binary/test_X.bin", stl10_images(5, 2));
  write("stl10_binary/test_y.bin", stl10_labels(2));
  const std::string expected = (dir_ / "expected.bin").string();
  // torchvision's loader, called without its download/md5 checks; HWC bytes out.
  const std::string script =
      "import sys; from torchvision.datasets import STL10; d = STL10.__new__(STL10); "
      "d.root = sys.argv[1]; d.base_folder = 'stl10_binary'; "
      "x, y = d._STL10__loadfile('test_X.bin', 'test_y.bin'); "
      "open(sys.argv[2], 'wb').write(x.transpose(0, 2, 3, 1).tobytes() + "
      "y.astype('uint8').tobytes())";
  const auto python = testing::run_command("'" + testing::python() + "' -c \"" + script + "\" '" +
                                           dir_.string() + "' '" + expected + "' 2>&1");
  ASSERT_EQ(python.exit_code, 0) << python.output;
  std::ifstream in(expected, std::ios::binary);
  std::vector<uint8_t> reference((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(reference.size(), 2u * 27648 + 2);
  const auto test = open_dataset(DatasetOptions().name("stl10").root(dir_.string()), "test");
  for (int i = 0; i < 2; ++i) {
    const Sample sample = test->get(i);
    ASSERT_TRUE(sample.image.isContinuous());
    EXPECT_EQ(std::memcmp(sample.image.data, reference.data() + i * 27648, 27648), 0) << i;
    EXPECT_EQ(sample.label, reference[2 * 27648 + i]);
  }
}

TEST_F(RecordFilesTest, Stl10RefusalsNameFileAndOffset) {
  auto images = stl10_images(1, 3);
  images.resize(images.size() - 1);
  const std::string x = write("train_X.bin", images);
  const std::string y = write("train_y.bin", stl10_labels(3));
  std::string message = thrown_message([&] { Stl10Dataset({{x, y}}); });
  EXPECT_NE(message.find(x), std::string::npos) << message;
  EXPECT_NE(message.find("byte offset 55296"), std::string::npos) << message;

  const std::string good_x = write("good_X.bin", stl10_images(1, 3));
  const std::string short_y = write("short_y.bin", stl10_labels(2));
  message = thrown_message([&] { Stl10Dataset({{good_x, short_y}}); });
  EXPECT_NE(message.find(short_y), std::string::npos) << message;
  EXPECT_NE(message.find("2 labels"), std::string::npos) << message;

  auto labels = stl10_labels(3);
  labels[1] = 0;  // labels are 1..10 in the file
  const std::string bad_y = write("bad_y.bin", labels);
  message = thrown_message([&] { Stl10Dataset({{good_x, bad_y}}); });
  EXPECT_NE(message.find(bad_y), std::string::npos) << message;
  EXPECT_NE(message.find("label 0 at byte offset 1"), std::string::npos) << message;

  message = thrown_message([&] {
    open_dataset(DatasetOptions().name("stl10").root(dir_.string()).stl10_train_split("all"),
                 "train");
  });
  EXPECT_NE(message.find("stl10_train_split"), std::string::npos) << message;
}

}  // namespace
}  // namespace pretext
