// Masking, patchify and the masked reconstruction loss.
#include "objectives/mae_masking.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace pretext {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

torch::Tensor masking_noise(const torch::Tensor& indices, int64_t batch_size, int64_t num_patches,
                            int64_t step) {
  TORCH_CHECK(!indices.defined() || indices.numel() == batch_size, "masking_noise: expected ",
              batch_size, " dataset indices, got ", indices.numel());
  const auto keys = indices.defined() ? indices.to(torch::kCPU, torch::kLong).contiguous()
                                      : torch::arange(batch_size, torch::kLong);
  const int64_t* key = keys.data_ptr<int64_t>();
  auto noise = torch::empty({batch_size, num_patches}, torch::kFloat);
  for (int64_t b = 0; b < batch_size; ++b) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(
        mix(static_cast<uint64_t>(step) * 0x100000001b3ULL ^ mix(static_cast<uint64_t>(key[b]))));
    noise[b].uniform_(0.0, 1.0, generator);
  }
  return noise;
}

int64_t num_visible(int64_t num_patches, double mask_ratio) {
  TORCH_CHECK_VALUE(0.0 <= mask_ratio && mask_ratio < 1.0, "mask_ratio must be in [0, 1), got ",
                    mask_ratio);
  // As MAE's len_keep = int(L * (1 - mask_ratio)): truncated, in double as Python computes it.
  return std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(num_patches) * (1.0 - mask_ratio)));
}

RandomMask random_masking(const torch::Tensor& x, double mask_ratio, const torch::Tensor& noise) {
  TORCH_CHECK(x.dim() == 3, "random_masking: x must be [B, L, D], got ", x.sizes());
  TORCH_CHECK(noise.sizes() == x.sizes().slice(0, 2), "random_masking: noise must be [", x.size(0),
              ", ", x.size(1), "], got ", noise.sizes());
  const int64_t b = x.size(0);
  const int64_t l = x.size(1);
  const int64_t keep = num_visible(l, mask_ratio);
  RandomMask out;
  // Ascending: the smallest noise is kept.
  const auto ids_shuffle = noise.argsort(/*dim=*/static_cast<int64_t>(1), /*descending=*/false);
  out.ids_restore = ids_shuffle.argsort(/*dim=*/static_cast<int64_t>(1), /*descending=*/false);
  out.ids_keep = ids_shuffle.narrow(1, 0, keep);
  out.kept = x.gather(1, out.ids_keep.unsqueeze(-1).expand({b, keep, x.size(2)}));
  auto mask = torch::ones({b, l}, x.options());
  mask.narrow(1, 0, keep).zero_();
  out.mask = mask.gather(1, out.ids_restore);
  return out;
}

torch::Tensor patchify(const torch::Tensor& images, int64_t patch_size) {
  TORCH_CHECK(
      images.dim() == 4 && images.size(2) % patch_size == 0 && images.size(3) % patch_size == 0,
      "patchify: need [B, C, H, W] with H and W multiples of ", patch_size, ", got ",
      images.sizes());
  const int64_t b = images.size(0);
  const int64_t c = images.size(1);
  const int64_t h = images.size(2) / patch_size;
  const int64_t w = images.size(3) / patch_size;
  // nchpwq -> nhwpqc, as MAE's einsum.
  return images.reshape({b, c, h, patch_size, w, patch_size})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({b, h * w, patch_size * patch_size * c});
}

torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch_size, int64_t channels) {
  TORCH_CHECK(patches.dim() == 3 && patches.size(2) == patch_size * patch_size * channels,
              "unpatchify: need [B, L, ", patch_size * patch_size * channels, "], got ",
              patches.sizes());
  const int64_t b = patches.size(0);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(patches.size(1))));
  TORCH_CHECK(side * side == patches.size(1), "unpatchify: ", patches.size(1),
              " patches do not form a square grid");
  return patches.reshape({b, side, side, patch_size, patch_size, channels})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({b, channels, side * patch_size, side * patch_size});
}

torch::Tensor masked_reconstruction_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                         const torch::Tensor& mask, bool norm_pix_loss) {
  TORCH_CHECK(pred.sizes() == target.sizes() && pred.dim() == 3,
              "masked_reconstruction_loss: pred and target must be [B, L, P] alike, got ",
              pred.sizes(), " and ", target.sizes());
  TORCH_CHECK(mask.sizes() == pred.sizes().slice(0, 2),
              "masked_reconstruction_loss: mask must be [B, L], got ", mask.sizes());
  torch::Tensor t = target.to(torch::kFloat);
  if (norm_pix_loss) {
    const auto mean = t.mean(-1, /*keepdim=*/true);
    const auto var = t.var(-1, /*unbiased=*/true, /*keepdim=*/true);
    t = (t - mean) / (var + 1e-6).sqrt();
  }
  const auto per_patch = (pred.to(torch::kFloat) - t).pow(2).mean(-1);  // [B, L]
  const auto m = mask.to(torch::kFloat);
  return (per_patch * m).sum() / m.sum();
}

}  // namespace pretext
