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

}  // namespace pretext
