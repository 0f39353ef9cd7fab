// ImageFolderDataset on small trees written here with cv::imwrite: class order and labels, exact
// PNG pixels in RGB order, the val fallback, limit, unlabelled flat folders, concurrent get(), and
// the refusals (corrupt file, missing root or split, empty class folder).
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "data/dataset.h"
#include "data/image_folder.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;

using testing::thrown_message;

/// rows x cols BGR image whose pixel (r, c) is (B, G, R) = (10 r + seed, 10 c, r + c + seed).
cv::Mat pattern(int rows, int cols, int seed) {
  cv::Mat image(rows, cols, CV_8UC3);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      image.at<cv::Vec3b>(r, c) =
          cv::Vec3b(static_cast<uint8_t>(10 * r + seed), static_cast<uint8_t>(10 * c),
                    static_cast<uint8_t>(r + c + seed));
    }
  }
  return image;
}

class ImageFolderTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = testing::unique_temp_path("pretext_image_folder_test");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const fs::path& relative) const { return (dir_ / relative).string(); }

  void write_image(const fs::path& relative, const cv::Mat& bgr) {
    fs::create_directories((dir_ / relative).parent_path());
    ASSERT_TRUE(cv::imwrite(path(relative), bgr)) << path(relative);
  }

  void write_bytes(const fs::path& relative, const std::string& bytes) {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream(path(relative), std::ios::binary) << bytes;
  }

  // <split>/{cat, ant, bee}: created out of order; each class gets files of different sizes.
  //   ant: a.png (4x5), b.JPG (16x16 pure red)
  //   bee: C.PNG (3x2), a.png (6x7), notes.txt (ignored)
  //   cat: x.jpeg (8x8 pure blue)
  void write_tree(const std::string& split) {
    write_image(split + "/cat/x.jpeg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(255, 0, 0)));
    write_image(split + "/ant/a.png", pattern(4, 5, 1));
    write_image(split + "/ant/b.JPG", cv::Mat(16, 16, CV_8UC3, cv::Scalar(0, 0, 255)));
    write_image(split + "/bee/a.png", pattern(6, 7, 2));
    write_image(split + "/bee/C.PNG", pattern(3, 2, 3));
    write_bytes(split + "/bee/notes.txt", "not an image");
  }

  fs::path dir_;
};

TEST_F(ImageFolderTest, ClassesAreSortedAndLabelledByIndex) {
  write_tree("train");
  const ImageFolderDataset dataset(dir_.string(), "train");
  EXPECT_EQ(dataset.classes(), std::vector<std::string>({"ant", "bee", "cat"}));
  EXPECT_EQ(dataset.num_classes(), 3);
  EXPECT_EQ(dataset.channels(), 3);
  ASSERT_EQ(dataset.size(), 5);
  // Within a class, byte order of names: "C.PNG" before "a.png".
  const std::vector<std::string> files = {"ant/a.png", "ant/b.JPG", "bee/C.PNG", "bee/a.png",
                                          "cat/x.jpeg"};
  const std::vector<int64_t> labels = {0, 0, 1, 1, 2};
  const std::vector<std::pair<int, int>> shapes = {{4, 5}, {16, 16}, {3, 2}, {6, 7}, {8, 8}};
  for (int64_t i = 0; i < dataset.size(); ++i) {
    EXPECT_EQ(dataset.path(i), path(fs::path("train") / files[i]));
    const Sample sample = dataset.get(i);
    EXPECT_EQ(sample.label, labels[i]) << files[i];
    EXPECT_EQ(sample.image.type(), CV_8UC3) << files[i];
    EXPECT_EQ(sample.image.rows, shapes[i].first) << files[i];
    EXPECT_EQ(sample.image.cols, shapes[i].second) << files[i];
  }
  EXPECT_NE(dataset.describe().find("5 images"), std::string::npos) << dataset.describe();
  EXPECT_NE(dataset.describe().find(path("train")), std::string::npos) << dataset.describe();
  EXPECT_THROW(dataset.get(5), c10::Error);
  EXPECT_THROW(dataset.get(-1), c10::Error);
}

TEST_F(ImageFolderTest, PngPixelsAreExactInRgbOrder) {
  write_tree("train");
  const ImageFolderDataset dataset(dir_.string(), "train");
  const cv::Mat image = dataset.get(3).image;  // bee/a.png, pattern(6, 7, 2)
  ASSERT_EQ(image.rows, 6);
  ASSERT_EQ(image.cols, 7);
  for (int r = 0; r < 6; ++r) {
    for (int c = 0; c < 7; ++c) {
      const cv::Vec3b rgb = image.at<cv::Vec3b>(r, c);
      EXPECT_EQ(rgb[0], r + c + 2) << r << "," << c;
      EXPECT_EQ(rgb[1], 10 * c) << r << "," << c;
      EXPECT_EQ(rgb[2], 10 * r + 2) << r << "," << c;
    }
  }
}

TEST_F(ImageFolderTest, JpegColoursComeOutRgb) {
  write_tree("train");
  const ImageFolderDataset dataset(dir_.string(), "train");
  // ant/b.JPG was written pure red, cat/x.jpeg pure blue; JPEG is lossy, so allow a little.
  const cv::Mat red = dataset.get(1).image;
  const cv::Mat blue = dataset.get(4).image;
  double low = 0;
  double high = 0;
  std::vector<cv::Mat> channels;
  cv::split(red, channels);
  cv::minMaxLoc(channels[0], &low, &high);
  EXPECT_GE(low, 250) << "red channel of a red JPEG";
  cv::minMaxLoc(channels[2], &low, &high);
  EXPECT_LE(high, 5) << "blue channel of a red JPEG";
  cv::split(blue, channels);
  cv::minMaxLoc(channels[2], &low, &high);
  EXPECT_GE(low, 250) << "blue channel of a blue JPEG";
  cv::minMaxLoc(channels[0], &low, &high);
  EXPECT_LE(high, 5) << "red channel of a blue JPEG";
}

TEST_F(ImageFolderTest, GrayscaleFilesBecomeThreeEqualChannels) {
  cv::Mat gray(3, 4, CV_8UC1);
  for (int i = 0; i < 12; ++i) gray.at<uint8_t>(i / 4, i % 4) = static_cast<uint8_t>(20 * i);
  write_image("train/only/g.png", gray);
  const Sample sample = ImageFolderDataset(dir_.string(), "train").get(0);
  ASSERT_EQ(sample.image.type(), CV_8UC3);
  EXPECT_EQ(sample.image.at<cv::Vec3b>(2, 3), cv::Vec3b(220, 220, 220));
  EXPECT_EQ(sample.image.at<cv::Vec3b>(0, 1), cv::Vec3b(20, 20, 20));
}

TEST_F(ImageFolderTest, TestSplitFallsBackToVal) {
  write_image("val/dog/1.png", pattern(2, 2, 7));
  write_image("val/cow/1.png", pattern(3, 3, 8));
  const ImageFolderDataset val(dir_.string(), "test");
  EXPECT_EQ(val.folder(), path("val"));
  EXPECT_EQ(val.classes(), std::vector<std::string>({"cow", "dog"}));
  ASSERT_EQ(val.size(), 2);
  EXPECT_EQ(val.get(1).label, 1);
  EXPECT_EQ(val.get(1).image.at<cv::Vec3b>(1, 0), cv::Vec3b(1 + 7, 0, 10 + 7));

  // A real test/ folder wins over val/.
  write_image("test/dog/1.png", pattern(2, 2, 7));
  const ImageFolderDataset test(dir_.string(), "test");
  EXPECT_EQ(test.folder(), path("test"));
  EXPECT_EQ(test.size(), 1);
  // "train" never falls back.
  const std::string message = thrown_message([&] { ImageFolderDataset(dir_.string(), "train"); });
  EXPECT_NE(message.find(path("train")), std::string::npos) << message;
}

TEST_F(ImageFolderTest, LimitKeepsTheFirstSamplesInSortedOrder) {
  write_tree("train");
  const ImageFolderDataset full(dir_.string(), "train");
  const ImageFolderDataset small(dir_.string(), "train", /*limit=*/3);
  ASSERT_EQ(small.size(), 3);
  EXPECT_EQ(small.num_classes(), 3);  // every class folder still counts
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(small.path(i), full.path(i));
    EXPECT_EQ(small.get(i).label, full.get(i).label);
    EXPECT_EQ(cv::norm(small.get(i).image, full.get(i).image, cv::NORM_INF), 0.0);
  }
  EXPECT_EQ(small.get(2).label, 1);
  EXPECT_THROW(small.get(3), c10::Error);
  EXPECT_EQ(ImageFolderDataset(dir_.string(), "train", /*limit=*/100).size(), 5);
  EXPECT_THROW(ImageFolderDataset(dir_.string(), "train", /*limit=*/-1), c10::Error);
}

TEST_F(ImageFolderTest, FlatFolderIsUnlabelled) {
  write_image("train/b.png", pattern(2, 3, 4));
  write_image("train/a.png", pattern(5, 1, 5));
  const ImageFolderDataset dataset(dir_.string(), "train");
  EXPECT_EQ(dataset.num_classes(), 0);
  EXPECT_TRUE(dataset.classes().empty());
  ASSERT_EQ(dataset.size(), 2);
  const Sample first = dataset.get(0);
  EXPECT_EQ(first.label, -1);
  EXPECT_EQ(first.image.rows, 5);
  EXPECT_EQ(first.image.cols, 1);
  EXPECT_EQ(dataset.get(1).label, -1);
  EXPECT_NE(dataset.describe().find("unlabelled"), std::string::npos) << dataset.describe();
}

TEST_F(ImageFolderTest, ConcurrentGetMatchesSequential) {
  write_tree("train");
  const ImageFolderDataset dataset(dir_.string(), "train");
  std::vector<cv::Mat> expected;
  for (int64_t i = 0; i < dataset.size(); ++i) expected.push_back(dataset.get(i).image);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (int64_t i = 0; i < dataset.size(); ++i) {
          const cv::Mat image = dataset.get((i + t) % dataset.size()).image;
          if (cv::norm(image, expected[(i + t) % dataset.size()], cv::NORM_INF) != 0.0) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(ImageFolderTest, CorruptFileNamesItsPath) {
  write_tree("train");
  write_bytes("train/bee/broken.jpg", "\xff\xd8 this is not really a JPEG stream");
  const ImageFolderDataset dataset(dir_.string(), "train");
  ASSERT_EQ(dataset.size(), 6);
  ASSERT_EQ(dataset.path(4), path("train/bee/broken.jpg"));
  const std::string message = thrown_message([&] { dataset.get(4); });
  EXPECT_NE(message.find(path("train/bee/broken.jpg")), std::string::npos) << message;
  EXPECT_NE(message.find("not an image"), std::string::npos) << message;
  // The neighbours still read.
  EXPECT_EQ(dataset.get(3).image.rows, 6);
  EXPECT_EQ(dataset.get(5).label, 2);
}

TEST_F(ImageFolderTest, MissingRootSplitOrImagesAreExplained) {
  const std::string root = path("absent");
  const std::string missing = thrown_message([&] { ImageFolderDataset(root, "train"); });
  EXPECT_NE(missing.find("'" + root + "'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("expected " + root + "/train/<class>/<image>"), std::string::npos)
      << missing;

  const std::string no_test = thrown_message([&] { ImageFolderDataset(dir_.string(), "test"); });
  EXPECT_NE(no_test.find(path("test")), std::string::npos) << no_test;
  EXPECT_NE(no_test.find(path("val")), std::string::npos) << no_test;

  fs::create_directories(dir_ / "train");
  const std::string empty = thrown_message([&] { ImageFolderDataset(dir_.string(), "train"); });
  EXPECT_NE(empty.find("'" + path("train") + "'"), std::string::npos) << empty;
  EXPECT_NE(empty.find("<class>/<image>"), std::string::npos) << empty;

  // Images one level too deep leave the class folder empty.
  write_image("train/imagenet/n01440764/1.png", pattern(2, 2, 0));
  const std::string deep = thrown_message([&] { ImageFolderDataset(dir_.string(), "train"); });
  EXPECT_NE(deep.find("'" + path("train/imagenet") + "'"), std::string::npos) << deep;

  EXPECT_THROW(ImageFolderDataset(dir_.string(), "val"), c10::Error);
}

TEST_F(ImageFolderTest, OpenDatasetKnowsImageFolder) {
  write_tree("train");
  write_image("val/ant/1.png", pattern(2, 2, 9));
  DatasetOptions options;
  options.name("image_folder").root(dir_.string()).limit(4);
  const auto train = open_dataset(options, "train");
  EXPECT_EQ(train->size(), 4);
  EXPECT_EQ(train->channels(), 3);
  EXPECT_EQ(train->num_classes(), 3);
  const auto test = open_dataset(options, "test");
  EXPECT_EQ(test->size(), 1);
  EXPECT_EQ(test->get(0).image.at<cv::Vec3b>(1, 1), cv::Vec3b(2 + 9, 10, 10 + 9));
  const std::string unknown =
      thrown_message([] { open_dataset(DatasetOptions().name("imagenet"), "train"); });
  EXPECT_NE(unknown.find("image_folder"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace pretext
