// pack, audit and on_error=skip through the real executable: a dataset packed by name and read
// back, an image folder with one unreadable file (audit lists it and exits 1, pack refuses it
// by name and writes no manifest, training with on_error=skip reports and replaces it).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/launch/process.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::read_file;
using testing::run_pretext;
using testing::shell_quoted;

TEST(DatasetCommands, PacksADatasetByNameAndAuditsTheShards) {
  const auto dir = fresh_dir("dataset_pack_name");
  const auto prefix = dir / "fmnist";
  const auto packed =
      run_pretext("pack --input fashion_mnist --data.root=" + testing::fashion_mnist_root() +
                  " --data.limit=100 --shard-size 40 --out " + shell_quoted(prefix));
  ASSERT_EQ(packed.exit_code, 0) << packed.output;
  for (const char* split : {"train", "test"}) {
    EXPECT_TRUE(fs::exists(dir / ("fmnist-" + std::string(split) + ".manifest"))) << split;
    for (const char* shard : {"00000", "00001", "00002"}) {
      EXPECT_TRUE(fs::exists(dir / ("fmnist-" + std::string(split) + "-" + shard + ".h5")))
          << split << " " << shard;
    }
  }
  const auto audited = run_pretext("audit --dataset hdf5 --data.root=" + shell_quoted(prefix) +
                                   " --split all --threads 2");
  EXPECT_EQ(audited.exit_code, 0) << audited.output;
  EXPECT_NE(audited.output.find("100 listed, 100 decoded, 0 unreadable"), std::string::npos)
      << audited.output;

  const auto unknown = run_pretext("pack --input no_such_dataset --out " + shell_quoted(dir / "x"));
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no_such_dataset"), std::string::npos) << unknown.output;
  const auto missing = run_pretext("pack --input " + shell_quoted(dir / "missing") + " --out " +
                                   shell_quoted(dir / "x"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
}

// 40 PNGs in two classes under root/train and root/test, and one truncated file in train/b.
fs::path folder_with_one_bad_image(const std::string& name) {
  const auto root = fresh_dir(name) / "images";
  for (const char* split : {"train", "test"}) {
    for (const char* cls : {"a", "b"}) {
      fs::create_directories(root / split / cls);
      for (int i = 0; i < 10; ++i) {
        cv::Mat image(32, 32, CV_8UC3, cv::Scalar(cls[0] == 'a' ? 40 : 200, 8 * i, 100));
        cv::imwrite((root / split / cls / ("img" + std::to_string(i) + ".png")).string(), image);
      }
    }
  }
  // A PNG cut in half: no IEND chunk.
  const auto good = root / "train" / "b" / "img0.png";
  fs::copy_file(good, root / "train" / "b" / "broken.png");
  fs::resize_file(root / "train" / "b" / "broken.png", fs::file_size(good) / 2);
  return root;
}

TEST(DatasetCommands, AnUnreadableImageIsAuditedRefusedByPackAndSkippedInTraining) {
  const auto root = folder_with_one_bad_image("dataset_bad_image");
  const auto dir = root.parent_path();
  const std::string folder = " --data.index_cache=" + shell_quoted(dir / "cache");

  const auto audited =
      run_pretext("audit --dataset " + shell_quoted(root) + folder + " --split all");
  EXPECT_EQ(audited.exit_code, 1) << audited.output;
  EXPECT_NE(audited.output.find("broken.png"), std::string::npos) << audited.output;
  EXPECT_NE(audited.output.find("21 listed, 20 decoded, 1 unreadable"), std::string::npos)
      << audited.output;

  const auto packed = run_pretext("pack --input " + shell_quoted(root) + folder + " --out " +
                                  shell_quoted(dir / "packed"));
  EXPECT_NE(packed.exit_code, 0) << packed.output;
  EXPECT_NE(packed.output.find("broken.png"), std::string::npos) << packed.output;
  EXPECT_FALSE(fs::exists(dir / "packed-train.manifest"));

  const auto run = dir / "run";
  const auto trained = run_pretext(
      "train --config configs/simclr_resnet18_fmnist.cfg --data.dataset=image_folder "
      "--data.root=" +
      shell_quoted(root) + folder +
      " --data.on_error=skip --data.image_size=16 --data.mean=0.5,0.5,0.5 "
      "--data.std=0.25,0.25,0.25 --train.batch_size=7 --train.epochs=1 "
      "--model.width=0.125 --simclr.proj_hidden_dim=16 --simclr.proj_output_dim=8 "
      "--train.log_every=1 --train.threads=2 --train.progress=false --eval.baselines=false "
      "--output " +
      shell_quoted(run));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::string report = read_file(run / "unreadable_samples.tsv");
  EXPECT_NE(report.find("broken.png"), std::string::npos) << report;
  const std::string metrics = read_file(run / "metrics.jsonl");
  // 21 images at batch 7: 3 steps, and the broken file was replaced once.
  EXPECT_NE(metrics.find("\"step\": 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.rfind("\"data/replaced\": 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace pretext
