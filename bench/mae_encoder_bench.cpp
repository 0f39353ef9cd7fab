// MAE's saving, measured: one forward + backward of a ViT encoder over the visible tokens that
// MAE's random masking keeps (25% at mask ratio 0.75) against the same encoder over every patch
// token, as a plain ViT pretraining step would run it. Same weights, same batch, same threads.
// Prints the median ms of each and their ratio for each setting.
//   pretext_bench_mae_encoder [--threads N] [--steps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/vit.h"
#include "objectives/mae_masking.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Setting {
  const char* name;
  pretext::VitOptions vit;
  int64_t batch;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median ms of `steps` forward+backward passes of the encoder over the patch tokens of
// `images`, MAE-masked at `mask_ratio` per sample (0: every token).
double encoder_ms(pretext::VisionTransformer& vit, const torch::Tensor& images, double mask_ratio,
                  int steps) {
  std::vector<double> times;
  for (int step = 0; step < steps + 1; ++step) {  // the first pass warms up the allocator
    vit.zero_grad();
    const auto start = Clock::now();
    auto tokens = vit.embed_patches(images);
    if (mask_ratio > 0.0) {
      const auto noise = torch::rand({tokens.size(0), tokens.size(1)});
      tokens = pretext::random_masking(tokens, mask_ratio, noise).kept;
    }
    const auto cls = vit.cls_token_with_pos().expand({tokens.size(0), 1, tokens.size(2)});
    const auto out = vit.forward_tokens(torch::cat({cls, tokens}, 1));
    out.pow(2).mean().backward();
    if (step > 0) {
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, steps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    if (flag == "--steps") steps = std::atoi(argv[i + 1]);
  }
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  const Setting settings[] = {
      {"ViT-Ti, 28 px, patch 7 (16 tokens), batch 256",
       pretext::VitOptions::tiny().image_size(28).patch_size(7), 256},
      {"ViT-S, 224 px, patch 16 (196 tokens), batch 16", pretext::VitOptions::small(), 16},
  };
  std::printf("%-52s %12s %12s %8s\n", "setting", "all tokens", "MAE (25%)", "ratio");
  for (const Setting& s : settings) {
    auto vit = std::make_shared<pretext::VisionTransformer>(s.vit);
    vit->train();
    const int64_t side = s.vit.image_size();
    const auto images = torch::randn({s.batch, 3, side, side});
    const double full = encoder_ms(*vit, images, 0.0, steps);
    const double masked = encoder_ms(*vit, images, 0.75, steps);
    std::printf("%-52s %9.1f ms %9.1f ms %8.2f\n", s.name, full, masked, masked / full);
  }
  return 0;
}
