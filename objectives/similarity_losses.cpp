// Cosine-similarity losses, computed in float32 whatever the input dtype.
#include "objectives/similarity_losses.h"

namespace pretext {
namespace {

/// cos(p_b, z_b) for every row b, [B]; z detached.
torch::Tensor rowwise_cosine(const torch::Tensor& p, const torch::Tensor& z, const char* who) {
  TORCH_CHECK(p.dim() == 2 && p.sizes() == z.sizes(), who,
              ": expected prediction and target of equal shape [B, D], got ", p.sizes(), " and ",
              z.sizes());
  TORCH_CHECK(p.size(0) >= 1, who, ": empty batch");
  namespace F = torch::nn::functional;
  return F::cosine_similarity(p.to(torch::kFloat32), z.detach().to(torch::kFloat32),
                              F::CosineSimilarityFuncOptions().dim(1).eps(1e-8));
}

}  // namespace

torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z) {
  return 2.0 - 2.0 * rowwise_cosine(p, z, "normalized_mse").mean();
}

torch::Tensor negative_cosine_similarity(const torch::Tensor& p, const torch::Tensor& z) {
  return -rowwise_cosine(p, z, "negative_cosine_similarity").mean();
}

}  // namespace pretext
