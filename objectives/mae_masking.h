// The pieces of masked autoencoding (He et al., arXiv:2111.06377) that are plain tensor
// functions: per-sample random masking by argsort of noise, patchify / unpatchify, and the
// reconstruction loss on masked patches. Follows the official models_mae.py
// (random_masking, patchify, unpatchify, forward_loss).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pretext {

struct RandomMask {
  torch::Tensor kept;         ///< [B, K, D] the visible tokens, in shuffled order
  torch::Tensor mask;         ///< [B, L] float: 0 visible, 1 masked, in original patch order
  torch::Tensor ids_restore;  ///< [B, L] int64: un-shuffles [kept, mask tokens] to patch order
  torch::Tensor ids_keep;     ///< [B, K] int64: original indices of the visible tokens
};

/// Uniform noise [B, L] for random_masking, row b drawn from a generator keyed by `step` and
/// the sample's dataset index indices[b] (indices [B] int64; undefined: row positions), so an
/// image's mask depends on neither the batch it lands in nor how many ranks share the batch.
torch::Tensor masking_noise(const torch::Tensor& indices, int64_t batch_size, int64_t num_patches,
                            int64_t step);

/// Visible tokens per sample for L patches: MAE's int(L * (1 - mask_ratio)), at least 1.
int64_t num_visible(int64_t num_patches, double mask_ratio);

/// Keeps num_visible(L, mask_ratio) tokens of x [B, L, D] per sample, chosen by the smallest
/// of `noise` [B, L] (uniform noise gives a uniformly random subset).
RandomMask random_masking(const torch::Tensor& x, double mask_ratio, const torch::Tensor& noise);

/// images [B, C, H, W] -> [B, (H/p)*(W/p), p*p*C], each patch flattened as (p, p, C) like MAE.
torch::Tensor patchify(const torch::Tensor& images, int64_t patch_size);
/// The inverse of patchify for a square grid: [B, L, p*p*C] -> [B, C, H, W].
torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch_size, int64_t channels);

/// Mean over masked patches of the per-patch mean squared error between pred and target
/// ([B, L, P]); with norm_pix_loss each target patch is first normalized by its own mean and
/// variance (unbiased, + 1e-6), as MAE's default. mask [B, L] is 1 where a patch was masked.
torch::Tensor masked_reconstruction_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                         const torch::Tensor& mask, bool norm_pix_loss);

}  // namespace pretext
