// `pretext reconstruct`: what an MAE checkpoint sees and predicts, as a PNG grid of the first
// test images: originals, the masked input (hidden patches grey) and the reconstruction with
// the visible patches pasted back, as in the MAE paper's figures (models_mae.py visualization:
// normalized-pixel predictions are mapped back with each patch's own mean and variance).
#include <filesystem>
#include <iostream>

#include <ATen/CPUGeneratorImpl.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/loader.h"
#include "data/views.h"
#include "distributed/comm.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "objectives/mae.h"
#include "objectives/mae_masking.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kImages = 8;

/// Normalized [B, C, S, S] -> uint8 [B, S, S, C] on the host.
torch::Tensor to_pixels(const torch::Tensor& x, const std::vector<double>& mean,
                        const std::vector<double>& std) {
  const int64_t c = x.size(1);
  auto m = torch::tensor(mean, torch::kFloat).view({1, -1, 1, 1}).expand({1, c, 1, 1});
  auto s = torch::tensor(std, torch::kFloat).view({1, -1, 1, 1}).expand({1, c, 1, 1});
  return ((x.cpu().to(torch::kFloat) * s + m) * 255.0)
      .round()
      .clamp(0, 255)
      .to(torch::kUInt8)
      .permute({0, 2, 3, 1})
      .contiguous();
}

/// Rows of uint8 [B, S, S, C] images -> one BGR/gray mat, each tile scaled to >= 64 px.
cv::Mat grid(const std::vector<torch::Tensor>& rows) {
  const int64_t b = rows[0].size(0);
  const int64_t s = rows[0].size(1);
  const int64_t c = rows[0].size(3);
  const int scale = static_cast<int>(std::max<int64_t>(1, (64 + s - 1) / s));
  const int tile = static_cast<int>(s) * scale;
  const int pad = 2;
  cv::Mat out(static_cast<int>(rows.size()) * (tile + pad) + pad,
              static_cast<int>(b) * (tile + pad) + pad, c == 3 ? CV_8UC3 : CV_8UC1,
              cv::Scalar::all(255));
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int64_t i = 0; i < b; ++i) {
      const torch::Tensor image = rows[r][i].contiguous();
      cv::Mat view(static_cast<int>(s), static_cast<int>(s), c == 3 ? CV_8UC3 : CV_8UC1,
                   image.data_ptr<uint8_t>());
      cv::Mat scaled;
      cv::resize(view, scaled, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
      if (c == 3) cv::cvtColor(scaled, scaled, cv::COLOR_RGB2BGR);
      scaled.copyTo(out(cv::Rect(pad + static_cast<int>(i) * (tile + pad),
                                 pad + static_cast<int>(r) * (tile + pad), tile, tile)));
    }
  }
  return out;
}

}  // namespace

int run_reconstruct_command(const CommandLine& line) {
  LocalComm comm;
  const CheckpointRun run =
      load_checkpoint_run(line.checkpoint(), line.config_path(), line.overrides, comm);
  auto* mae = dynamic_cast<MaeObjective*>(run.objective.get());
  TORCH_CHECK_VALUE(mae != nullptr, "pretext reconstruct needs an MAE checkpoint; '",
                    line.checkpoint(), "' holds objective '", run.config.objective, "'");
  const auto test_set = open_dataset(run.config.dataset, "test");
  const int64_t count = std::min<int64_t>(kImages, test_set->size());
  const ViewPlan plan = ViewPlan::evaluation(run.config.image_size);
  std::vector<torch::Tensor> host;
  Rng rng(0);
  for (int64_t i = 0; i < count; ++i) {
    const cv::Mat view = plan.make_views(test_set->get(i).image, rng).at(0);
    host.push_back(
        torch::from_blob(view.data, {view.rows, view.cols, view.channels()}, torch::kUInt8)
            .permute({2, 0, 1})
            .clone());
  }
  const torch::Device device = run.config.device();
  const auto& mean = run.config.trainer.mean();
  const auto& std = run.config.trainer.std();
  const auto images = to_normalized_float(torch::stack(host), mean, std, device);

  torch::NoGradGuard no_grad;
  mae->eval();
  const int64_t p = mae->vit().patch_size();
  const int64_t grid_side = images.size(2) / p;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto noise =
      torch::rand({count, grid_side * grid_side}, generator, torch::kFloat).to(device);
  const MaeOutput out = mae->forward_with_noise(images, noise);

  const int64_t channels = images.size(1);
  const auto target = patchify(images, p);  // [B, L, p*p*C]
  auto pred = out.pred;
  if (mae->options().norm_pix_loss()) {
    // Predictions of normalized patches go back through each target patch's mean and std.
    const auto patch_mean = target.mean(-1, /*keepdim=*/true);
    const auto patch_std = (target.var(-1, /*unbiased=*/true, /*keepdim=*/true) + 1e-6).sqrt();
    pred = pred * patch_std + patch_mean;
  }
  const auto mask = out.mask.unsqueeze(-1).expand_as(target);  // 1 = hidden from the encoder
  const auto pasted = unpatchify(target * (1 - mask) + pred * mask, p, channels);
  const auto hidden = unpatchify(mask, p, channels).permute({0, 2, 3, 1}).cpu().gt(0.5);
  const auto masked_pixels = to_pixels(images, mean, std).masked_fill(hidden, 128);
  const cv::Mat picture =
      grid({to_pixels(images, mean, std), masked_pixels, to_pixels(pasted, mean, std)});
  const fs::path path =
      line.out().empty() ? fs::path(run_dir_of_checkpoint(line.checkpoint())) / "reconstruction.png"
                         : fs::path(line.out());
  TORCH_CHECK(cv::imwrite(path.string(), picture), "pretext reconstruct: cannot write '",
              path.string(), "'");
  std::cout << "pretext: mean masked-patch loss " << out.loss.item<double>() << " on " << count
            << " test images; wrote " << path.string() << "\n";
  return 0;
}

}  // namespace pretext
