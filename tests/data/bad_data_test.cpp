// Bad data: a folder of a few hundred good images and dozens of each kind of bad file
// (zero-byte, truncated JPEG and PNG, not an image, over the pixel limit, a type not accepted).
// The audit lists exactly the bad files, each with its kind of reason; the loader stops on the
// first one by default and, with on_error=skip, replaces each one deterministically, keeps batch
// sizes, and reports every bad file once. Header sizes are checked against the encoder's own.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "data/audit.h"
#include "data/augment.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/unreadable_report.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::thrown_message;

cv::Mat noise_image(int rows, int cols, int seed) {
  cv::Mat image(rows, cols, CV_8UC3);
  cv::randu(image, cv::Scalar::all(seed % 50), cv::Scalar::all(200 + seed % 56));
  return image;
}

std::vector<uint8_t> encode(const std::string& ext, const cv::Mat& image) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes)) << ext;
  return bytes;
}

class BadDataTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = fs::temp_directory_path() /
           ("pretext_bad_data_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cv::setRNGSeed(7);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Writes train/<cls>/<name>; remembers it as bad with the expected reason fragment.
  void write(const std::string& cls, const std::string& name, const std::vector<uint8_t>& bytes,
             const std::string& bad_reason = "") {
    const fs::path file = dir_ / "train" / cls / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!bad_reason.empty()) bad_[file.string()] = bad_reason;
  }

  /// 300 good images over 3 classes (JPEG, PNG, BMP, WebP, some under the wrong extension),
  /// and 24 of each bad kind spread over the classes.
  void write_folder() {
    const char* classes[] = {"a", "b", "c"};
    for (int i = 0; i < 300; ++i) {
      const std::string cls = classes[i % 3];
      const cv::Mat image = noise_image(12 + i % 7, 10 + i % 5, i);
      const std::string stem = "good_" + std::to_string(i);
      switch (i % 6) {
        case 0:
          write(cls, stem + ".jpg", encode(".jpg", image));
          break;
        case 1:
          write(cls, stem + ".png", encode(".png", image));
          break;
        case 2:
          write(cls, stem + ".bmp", encode(".bmp", image));
          break;
        case 3:
          write(cls, stem + ".webp", encode(".webp", image));
          break;
        case 4:
          write(cls, stem + ".jpg", encode(".png", image));
          break;  // PNG named .jpg
        default:
          write(cls, stem + ".png", encode(".jpg", image));
          break;  // JPEG named .png
      }
    }
    const cv::Mat big = noise_image(40, 40, 1);  // 1600 pixels: over the test's limit of 1000
    // 30x30 noise: about 2 KB, so most cuts fall in the scan data (after a ~600-byte header)
    // and only the missing end-of-image marker tells them apart from a whole file.
    const std::vector<uint8_t> jpeg = encode(".jpg", noise_image(30, 30, 2));
    const std::vector<uint8_t> png = encode(".png", noise_image(16, 16, 3));
    // A PNG header declaring 100000 x 100000 pixels and nothing else: refused before decoding.
    std::vector<uint8_t> bomb(png.begin(), png.begin() + 33);
    bomb[16] = 0, bomb[17] = 1, bomb[18] = 0x86, bomb[19] = 0xa0;  // width 100000
    bomb[20] = 0, bomb[21] = 1, bomb[22] = 0x86, bomb[23] = 0xa0;  // height 100000
    const std::string text = "this is a text file, not a picture\n";
    std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 4, 0, 4, 0, 0, 0, 0, ';'};
    std::vector<uint8_t> tiff = {'I', 'I', '*', 0, 8, 0, 0, 0, 0, 0};
    for (int i = 0; i < 24; ++i) {
      const std::string cls = classes[i % 3];
      const std::string n = std::to_string(i);
      write(cls, "zero_" + n + ".jpg", {}, "empty file");
      write(cls, "cut_jpeg_" + n + ".jpg",
            std::vector<uint8_t>(jpeg.begin(),
                                 jpeg.begin() + static_cast<long>(jpeg.size()) * (i % 6 + 1) / 7),
            "truncated JPEG");
      write(cls, "cut_png_" + n + ".png",
            std::vector<uint8_t>(png.begin(),
                                 png.begin() + static_cast<long>(png.size()) * (i % 4 + 2) / 6),
            "truncated PNG");
      write(cls, "text_" + n + (i % 2 ? ".png" : ".jpeg"),
            std::vector<uint8_t>(text.begin(), text.end()), "not an image");
      write(cls, "big_" + n + ".png", i % 2 ? encode(".png", big) : bomb, "over data.max_pixels");
      write(cls, "gif_" + n + ".png", gif, "GIF image: type not accepted");
      write(cls, "tiff_" + n + ".jpg", tiff, "TIFF image: type not accepted");
    }
  }

  DecodeOptions decode_options() const {
    DecodeOptions options;
    options.max_pixels = 1000;
    return options;
  }

  fs::path dir_;
  std::map<std::string, std::string> bad_;  // path -> expected reason fragment
};

TEST_F(BadDataTest, AuditListsExactlyTheBadFiles) {
  write_folder();
  const ImageFolderDataset dataset(dir_.string(), "train", 0, decode_options());
  ASSERT_EQ(dataset.size(), 300 + 7 * 24);
  const AuditReport report = audit_dataset(dataset, 3);
  EXPECT_EQ(report.listed, dataset.size());
  EXPECT_EQ(report.decoded, 300);
  EXPECT_EQ(report.decoded + static_cast<int64_t>(report.unreadable.size()), report.listed);
  std::set<std::string> reported;
  for (size_t k = 0; k < report.unreadable.size(); ++k) {
    const UnreadableRecord& record = report.unreadable[k];
    if (k > 0) {
      EXPECT_LT(report.unreadable[k - 1].index, record.index);
    }
    EXPECT_EQ(record.source, dataset.path(record.index));
    reported.insert(record.source);
    const auto expected = bad_.find(record.source);
    ASSERT_NE(expected, bad_.end())
        << "good file reported: " << record.source << ": " << record.reason;
    EXPECT_NE(record.reason.find(expected->second), std::string::npos)
        << record.source << ": " << record.reason;
  }
  EXPECT_EQ(reported.size(), bad_.size());
  // Threads do not change the report.
  const AuditReport single = audit_dataset(dataset, 1);
  ASSERT_EQ(single.unreadable.size(), report.unreadable.size());
  for (size_t k = 0; k < single.unreadable.size(); ++k) {
    EXPECT_EQ(single.unreadable[k].source, report.unreadable[k].source);
    EXPECT_EQ(single.unreadable[k].reason, report.unreadable[k].reason);
  }
}

TEST_F(BadDataTest, HeadersGiveTheEncodedSize) {
  for (const std::string ext : {".jpg", ".png", ".bmp", ".webp"}) {
    const std::vector<uint8_t> bytes = encode(ext, noise_image(37, 53, 4));
    const ImageHeader header = read_image_header(bytes.data(), bytes.size(), ext);
    EXPECT_EQ(header.width, 53) << ext;
    EXPECT_EQ(header.height, 37) << ext;
    const cv::Mat decoded = decode_image(bytes.data(), bytes.size(), ext, {});
    EXPECT_EQ(decoded.cols, 53) << ext;
    EXPECT_EQ(decoded.rows, 37) << ext;
  }
  // Lossless WebP has its own header layout.
  const std::vector<uint8_t> lossless = [] {
    std::vector<uint8_t> b;
    cv::imencode(".webp", noise_image(9, 70, 5), b, {cv::IMWRITE_WEBP_QUALITY, 101});
    return b;
  }();
  const ImageHeader header = read_image_header(lossless.data(), lossless.size(), "lossless");
  EXPECT_EQ(header.width, 70);
  EXPECT_EQ(header.height, 9);
}

TEST_F(BadDataTest, ReducedJpegDecodingKeepsTheShorterSideAboveTheLimit) {
  const std::vector<uint8_t> bytes = encode(".jpg", noise_image(200, 300, 6));
  DecodeOptions options;
  options.min_side = 60;  // 200 / 2 = 100 >= 60, 200 / 4 = 50 < 60: half size
  cv::Mat half = decode_image(bytes.data(), bytes.size(), "x", options);
  EXPECT_EQ(half.rows, 100);
  EXPECT_EQ(half.cols, 150);
  options.min_side = 25;
  EXPECT_EQ(decode_image(bytes.data(), bytes.size(), "x", options).rows, 25);
  options.min_side = 0;
  EXPECT_EQ(decode_image(bytes.data(), bytes.size(), "x", options).rows, 200);
}

TEST_F(BadDataTest, ViewsDecideHowSmallAJpegIsDecoded) {
  // Evaluation views need the shorter side; random crops their smallest crop's side.
  EXPECT_EQ(ViewPlan::evaluation(100).needs().min_shorter_side, 100);
  const ViewPlan crops({ViewGroup{2, 64, AugmentOptions().crop_scale_min(0.5), true}});
  // Smallest crop side = sqrt(0.5 * 0.75) * sqrt(area) = 0.612 sqrt(area).
  EXPECT_NEAR(crops.needs().min_sqrt_area, 64.0 / std::sqrt(0.5 * 0.75), 1e-9);
  EXPECT_EQ(crops.needs().min_shorter_side, 0);

  const fs::path file = dir_ / "big" / "train" / "photo.jpg";
  fs::create_directories(file.parent_path());
  ASSERT_TRUE(cv::imwrite(file.string(), noise_image(600, 800, 9)));
  const auto dataset = std::make_shared<ImageFolderDataset>((dir_ / "big").string(), "train");
  EXPECT_EQ(dataset->get(0).image.rows, 600);
  // 600 / 4 = 150 >= 100 but 600 / 8 < 100: a quarter.
  EXPECT_EQ(dataset->get_for_views(0, ViewPlan::evaluation(100).needs()).image.rows, 150);
  // sqrt(800 * 600) = 693; / 4 = 173 >= 104.5, / 8 = 87 < 104.5: a quarter as well.
  const cv::Mat quarter = dataset->get_for_views(0, crops.needs()).image;
  EXPECT_EQ(quarter.rows, 150);
  EXPECT_EQ(quarter.cols, 200);
  // Nothing to gain for small views of a small image: full size.
  EXPECT_EQ(dataset->get_for_views(0, ViewPlan::evaluation(400).needs()).image.rows, 600);

  // The loader decodes through the plan's needs: its view is the one cut from the quarter.
  auto plan = std::make_shared<const ViewPlan>(ViewPlan::evaluation(100));
  Loader loader(dataset, plan, ShardedSampler(1, 0, false),
                LoaderOptions().batch_size(1).num_workers(0).drop_last(false));
  loader.start_epoch(0);
  const auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  const cv::Mat expected = resize_center_crop(dataset->get_for_views(0, plan->needs()).image, 100);
  const torch::Tensor expected_chw =
      torch::from_blob(expected.data, {100, 100, 3}, torch::kUInt8).permute({2, 0, 1});
  EXPECT_TRUE(torch::equal(batch->views[0][0], expected_chw));
}

TEST_F(BadDataTest, DefaultPolicyStopsNamingFileAndReason) {
  write_folder();
  auto dataset = std::make_shared<ImageFolderDataset>(dir_.string(), "train", 0, decode_options());
  auto plan = std::make_shared<const ViewPlan>(ViewPlan::evaluation(8));
  const int64_t n = dataset->size();
  Loader loader(dataset, plan, ShardedSampler(n, 0, false),
                LoaderOptions().batch_size(n).num_workers(2));
  loader.start_epoch(0);
  const std::string message = thrown_message([&] { loader.next(); });
  // Sorted order puts class a's big_0.png first among the bad files.
  EXPECT_NE(message.find((dir_ / "train/a/big_0.png").string()), std::string::npos) << message;
  EXPECT_NE(message.find("over data.max_pixels"), std::string::npos) << message;
}

TEST_F(BadDataTest, SkipReplacesDeterministicallyAndReportsEachFileOnce) {
  write_folder();
  auto dataset = std::make_shared<ImageFolderDataset>(dir_.string(), "train", 0, decode_options());
  auto plan = std::make_shared<const ViewPlan>(
      std::vector<ViewGroup>{ViewGroup{2, 8, AugmentOptions().blur_prob(0.0), true}});
  const int64_t n = dataset->size();
  std::vector<std::vector<HostBatch>> runs;
  for (const int64_t workers : {0, 3}) {
    Loader loader(
        dataset, plan, ShardedSampler(n, 5, true),
        LoaderOptions().batch_size(36).num_workers(workers).drop_last(false).on_error("skip").seed(
            3));
    for (int epoch = 0; epoch < 2; ++epoch) {
      loader.start_epoch(epoch);
      std::vector<HostBatch> batches;
      int64_t served = 0;
      while (auto batch = loader.next()) {
        served += batch->views[0].size(0);
        // Every served sample is a readable one, with its own label.
        for (int64_t i = 0; i < batch->indices.size(0); ++i) {
          const std::string& file = dataset->path(batch->indices[i].item<int64_t>());
          EXPECT_EQ(bad_.count(file), 0u) << file;
        }
        batches.push_back(std::move(*batch));
      }
      EXPECT_EQ(served, n);  // sizes kept
      EXPECT_EQ(loader.replaced_count(), (epoch + 1) * static_cast<int64_t>(bad_.size()));
      runs.push_back(std::move(batches));
    }
    std::set<std::string> reported;
    for (const UnreadableRecord& record : loader.unreadable_samples()) {
      EXPECT_TRUE(reported.insert(record.source).second) << "reported twice: " << record.source;
      ASSERT_EQ(bad_.count(record.source), 1u) << record.source;
      EXPECT_NE(record.reason.find(bad_[record.source]), std::string::npos) << record.reason;
    }
    EXPECT_EQ(reported.size(), bad_.size());

    // The run directory's report: a header and one line per bad file, appended only once.
    UnreadableReport report(unreadable_report_path(dir_.string(), workers == 0 ? 0 : 2));
    EXPECT_EQ(report.path(),
              (dir_ / (workers == 0 ? "unreadable_samples.tsv" : "unreadable_samples.rank2.tsv"))
                  .string());
    EXPECT_EQ(report.update(loader), bad_.size());
    EXPECT_EQ(report.update(loader), 0u);
    std::ifstream in(report.path());
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "index\tsource\treason");
    size_t lines = 0;
    while (std::getline(in, line)) {
      const size_t tab = line.find('\t');
      const size_t second = line.find('\t', tab + 1);
      ASSERT_NE(second, std::string::npos) << line;
      const std::string source = line.substr(tab + 1, second - tab - 1);
      EXPECT_EQ(dataset->path(std::stoll(line.substr(0, tab))), source);
      EXPECT_NE(line.find(bad_[source], second), std::string::npos) << line;
      ++lines;
    }
    EXPECT_EQ(lines, bad_.size());
  }
  // 0 workers and 3 workers: identical bytes, epoch by epoch.
  ASSERT_EQ(runs.size(), 4u);
  for (size_t e = 0; e < 2; ++e) {
    ASSERT_EQ(runs[e].size(), runs[e + 2].size());
    for (size_t b = 0; b < runs[e].size(); ++b) {
      EXPECT_TRUE(torch::equal(runs[e][b].indices, runs[e + 2][b].indices));
      EXPECT_TRUE(torch::equal(runs[e][b].views[1], runs[e + 2][b].views[1]));
    }
  }
  const std::string message = thrown_message([&] {
    Loader(dataset, plan, ShardedSampler(n, 0, false), LoaderOptions().on_error("ignore"));
  });
  EXPECT_NE(message.find("data.on_error"), std::string::npos) << message;
}

}  // namespace
}  // namespace pretext
