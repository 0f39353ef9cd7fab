// Collapse diagnostics.
#include "objectives/embedding_stats.h"

namespace pretext {

torch::Tensor normalized_embedding_std(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 2, "normalized_embedding_std: expected [B, D], got ", z.sizes());
  namespace F = torch::nn::functional;
  const auto normalized = F::normalize(z.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
  return normalized.std(0).mean();
}

torch::Tensor effective_rank(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 2, "effective_rank: expected [B, D], got ", z.sizes());
  const auto singular = at::linalg_svdvals(z.to(torch::kFloat32));
  const auto p = singular / (singular.sum() + 1e-12) + 1e-12;
  return torch::exp(-(p * p.log()).sum());
}

void append_embedding_stats(const torch::Tensor& z,
                            std::vector<std::pair<std::string, torch::Tensor>>& metrics) {
  torch::NoGradGuard no_grad;
  metrics.emplace_back("embedding/std", normalized_embedding_std(z));
  metrics.emplace_back("embedding/rank", effective_rank(z));
}

}  // namespace pretext
