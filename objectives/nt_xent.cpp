// NT-Xent as one [2B, 2B] similarity matrix with the self-similarities masked out.
#include "objectives/nt_xent.h"

#include <limits>

namespace pretext {

NtXentOutput nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double temperature) {
  return nt_xent_global(z0, z1, z0, z1, 0, temperature);
}

NtXentOutput nt_xent_global(const torch::Tensor& z0, const torch::Tensor& z1,
                            const torch::Tensor& all0, const torch::Tensor& all1, int64_t offset,
                            double temperature) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes(),
              "nt_xent: expected two [B, D] tensors of equal shape, got ", z0.sizes(), " and ",
              z1.sizes());
  TORCH_CHECK(z0.size(0) >= 1, "nt_xent: empty batch");
  TORCH_CHECK(all0.dim() == 2 && all0.sizes() == all1.sizes() && all0.size(1) == z0.size(1),
              "nt_xent: the global batches must be [B, ", z0.size(1), "] alike, got ", all0.sizes(),
              " and ", all1.sizes());
  TORCH_CHECK(0 <= offset && offset + z0.size(0) <= all0.size(0), "nt_xent: rows [", offset, ", ",
              offset + z0.size(0), ") are not inside the global batch of ", all0.size(0));
  TORCH_CHECK_VALUE(temperature > 0.0, "nt_xent: temperature must be > 0, got ", temperature);
  const int64_t batch = z0.size(0);
  const int64_t global = all0.size(0);
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(1);
  const auto anchors = F::normalize(torch::cat({z0, z1}).to(torch::kFloat32), unit);  // [2b, D]
  const auto candidates =
      F::normalize(torch::cat({all0, all1}).to(torch::kFloat32), unit);  // [2B, D]
  auto logits = torch::mm(anchors, candidates.t()).div_(temperature);    // [2b, 2B]
  // An embedding is never its own negative: anchor i of view v sits at v * B + offset + i.
  const auto local = torch::arange(batch, logits.options().dtype(torch::kLong)) + offset;
  const auto self = torch::cat({local, local + global});  // [2b]
  logits = logits.scatter(1, self.unsqueeze(1), -std::numeric_limits<float>::infinity());
  const auto targets = torch::cat({local + global, local});  // [2b]: the other view
  NtXentOutput out;
  out.loss = F::cross_entropy(logits, targets);
  out.positive_acc = logits.detach().argmax(1).eq(targets).to(torch::kFloat32).mean();
  return out;
}

}  // namespace pretext
