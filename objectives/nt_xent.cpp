// NT-Xent as one [2B, 2B] similarity matrix with the self-similarities masked out.
#include "objectives/nt_xent.h"

#include <limits>

namespace pretext {

NtXentOutput nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double temperature) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes(),
              "nt_xent: expected two [B, D] tensors of equal shape, got ", z0.sizes(), " and ",
              z1.sizes());
  TORCH_CHECK(z0.size(0) >= 1, "nt_xent: empty batch");
  TORCH_CHECK_VALUE(temperature > 0.0, "nt_xent: temperature must be > 0, got ", temperature);
  const int64_t batch = z0.size(0);
  namespace F = torch::nn::functional;
  const auto z = F::normalize(torch::cat({z0, z1}).to(torch::kFloat32),
                              F::NormalizeFuncOptions().dim(1));  // [2B, D]
  auto logits = torch::mm(z, z.t()).div_(temperature);            // [2B, 2B]
  // An embedding is never its own negative.
  const auto self = torch::eye(2 * batch, logits.options().dtype(torch::kBool));
  logits = logits.masked_fill(self, -std::numeric_limits<float>::infinity());
  const auto first_half = torch::arange(batch, logits.options().dtype(torch::kLong));
  const auto targets = torch::cat({first_half + batch, first_half});  // [2B]
  NtXentOutput out;
  out.loss = F::cross_entropy(logits, targets);
  out.positive_acc = logits.detach().argmax(1).eq(targets).to(torch::kFloat32).mean();
  return out;
}

}  // namespace pretext
