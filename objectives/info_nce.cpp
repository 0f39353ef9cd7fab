// InfoNCE with a queue.
#include "objectives/info_nce.h"

namespace pretext {

InfoNceOutput info_nce_with_queue(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& queue, double temperature) {
  TORCH_CHECK(q.dim() == 2 && q.sizes() == k.sizes(),
              "info_nce: q and k must be [B, D] alike, got ", q.sizes(), " and ", k.sizes());
  TORCH_CHECK(queue.dim() == 2 && queue.size(1) == q.size(1), "info_nce: queue must be [K, ",
              q.size(1), "], got ", queue.sizes());
  TORCH_CHECK(temperature > 0.0, "info_nce: temperature must be > 0, got ", temperature);
  const auto qf = q.to(torch::kFloat);
  const auto positive = (qf * k.to(torch::kFloat)).sum(1, /*keepdim=*/true);  // [B, 1]
  const auto negative = torch::matmul(qf, queue.to(torch::kFloat).t());       // [B, K]
  const auto logits = torch::cat({positive, negative}, 1).div(temperature);   // [B, 1 + K]
  const auto target = torch::zeros({q.size(0)}, q.options().dtype(torch::kLong));
  InfoNceOutput out;
  out.loss = torch::nn::functional::cross_entropy(logits, target);
  out.positive_acc = logits.detach().argmax(1).eq(0).to(torch::kFloat).mean();
  return out;
}

InfoNceOutput info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& keys, int64_t offset,
                                double temperature) {
  TORCH_CHECK(q.dim() == 2 && keys.dim() == 2 && q.size(1) == keys.size(1),
              "info_nce_in_batch: q and keys must be [B, D] and [M, D], got ", q.sizes(), " and ",
              keys.sizes());
  TORCH_CHECK(0 <= offset && offset + q.size(0) <= keys.size(0), "info_nce_in_batch: rows [",
              offset, ", ", offset + q.size(0), ") are not inside the ", keys.size(0), " keys");
  TORCH_CHECK(temperature > 0.0, "info_nce_in_batch: temperature must be > 0, got ", temperature);
  namespace F = torch::nn::functional;
  const auto qn = F::normalize(q.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  const auto kn = F::normalize(keys.to(torch::kFloat), F::NormalizeFuncOptions().dim(1));
  const auto logits = torch::matmul(qn, kn.t()).div(temperature);  // [B, M]
  const auto target = torch::arange(offset, offset + q.size(0), q.options().dtype(torch::kLong));
  InfoNceOutput out;
  out.loss = F::cross_entropy(logits, target);
  out.positive_acc = logits.detach().argmax(1).eq(target).to(torch::kFloat).mean();
  return out;
}

}  // namespace pretext
