// A short MAE run lowers the reconstruction loss; `pretext reconstruct` on a briefly trained
// MAE: the PNG grid's layout, the original row equal
// to the test images, 12 of 16 patches grey in the masked row, the visible patches pasted
// unchanged into the reconstruction row; and a clear refusal for other objectives.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "data/dataset.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::run_pretext;

const std::string kTinyRun =
    "--data.limit=64 --train.batch_size=32 --train.epochs=1 --train.max_steps=2 "
    "--train.threads=2 --data.num_workers=2 --train.progress=false --eval.after_train=false ";

// 40 steps of the Fashion-MNIST MAE recipe on 640 images: the masked-patch reconstruction
// loss falls well below where it starts (about 1.56 -> 0.86 over the first and last 3 steps).
TEST(Reconstruct, ShortMaeRunLowersTheReconstructionLoss) {
  const auto dir = testing::fresh_dir("e2e_mae_loss");
  const auto trained = run_pretext(
      "train --config configs/mae_vit_tiny_fmnist.cfg --data.limit=640 --train.batch_size=64 "
      "--train.epochs=4 --train.warmup_epochs=0.5 --train.log_every=1 --train.threads=2 "
      "--data.num_workers=2 --train.progress=false --eval.after_train=false --output '" +
      dir.string() + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  std::vector<double> losses;
  std::ifstream metrics(dir / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto at = line.find("\"loss\": ");
    if (at != std::string::npos) losses.push_back(std::stod(line.substr(at + 8)));
  }
  ASSERT_EQ(losses.size(), 40u);
  const double first = (losses[0] + losses[1] + losses[2]) / 3.0;
  const double last = (losses[37] + losses[38] + losses[39]) / 3.0;
  std::cout << "MAE loss: first steps " << first << ", last steps " << last << "\n";
  EXPECT_LT(last, 0.8 * first);
}

TEST(Reconstruct, MaeGridShowsOriginalsMaskedInputsAndPastedReconstructions) {
  const auto dir = testing::fresh_dir("e2e_reconstruct");
  const auto trained = run_pretext("train --config configs/mae_vit_tiny_fmnist.cfg " + kTinyRun +
                                   "--output '" + dir.string() + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const auto png = dir / "grid.png";
  const auto made =
      run_pretext("reconstruct --checkpoint '" + (dir / "checkpoints" / "last.ckpt").string() +
                  "' --out '" + png.string() + "'");
  ASSERT_EQ(made.exit_code, 0) << made.output;

  const cv::Mat grid = cv::imread(png.string(), cv::IMREAD_GRAYSCALE);
  // 8 tiles of 28 px scaled x3 (84 px) with 2 px gaps, in 3 rows.
  ASSERT_EQ(grid.cols, 8 * 86 + 2);
  ASSERT_EQ(grid.rows, 3 * 86 + 2);
  const auto test_set = open_dataset(DatasetOptions(), "test");
  const auto at = [&](int row, int col, int y, int x) {
    return grid.at<uint8_t>(2 + row * 86 + 3 * y, 2 + col * 86 + 3 * x);
  };
  for (int col = 0; col < 8; ++col) {
    const cv::Mat original = test_set->get(col).image;
    int grey_patches = 0;
    for (int py = 0; py < 4; ++py) {
      for (int px = 0; px < 4; ++px) {
        bool grey = true;
        bool pasted = true;
        for (int y = py * 7; y < py * 7 + 7; ++y) {
          for (int x = px * 7; x < px * 7 + 7; ++x) {
            ASSERT_EQ(at(0, col, y, x), original.at<uint8_t>(y, x)) << col << " " << y << "," << x;
            grey = grey && at(1, col, y, x) == 128;
            pasted = pasted && at(2, col, y, x) == original.at<uint8_t>(y, x);
          }
        }
        grey_patches += grey;
        if (!grey) EXPECT_TRUE(pasted) << "visible patch " << py << "," << px << " of " << col;
      }
    }
    EXPECT_EQ(grey_patches, 12) << "image " << col;
  }
}

TEST(Reconstruct, RefusesCheckpointsOfOtherObjectives) {
  const auto dir = testing::fresh_dir("e2e_reconstruct_simclr");
  const auto trained =
      run_pretext("train --config configs/simclr_resnet18_fmnist.cfg --model.width=0.125 " +
                  kTinyRun + "--output '" + dir.string() + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const auto refused = run_pretext("reconstruct --checkpoint '" +
                                   (dir / "checkpoints" / "last.ckpt").string() + "'");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.output.find("needs an MAE checkpoint"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace pretext
