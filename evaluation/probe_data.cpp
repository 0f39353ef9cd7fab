#include "evaluation/probe_data.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "evaluation/knn.h"

namespace pretext {

torch::Tensor seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return torch::tensor(order, torch::kLong);
}

ProbeData make_probe_data(const Features& train, const Features& test, int64_t num_classes,
                          double val_fraction, uint64_t seed) {
  TORCH_CHECK_VALUE(val_fraction >= 0.0 && val_fraction < 1.0,
                    "linear probe: val_fraction must lie in [0, 1), got ", val_fraction);
  check_knn_inputs(train.features, train.labels, test.features, num_classes);
  check_labels(test.labels, test.features.size(0), num_classes, "test labels");
  const int64_t n = train.features.size(0);
  TORCH_CHECK_VALUE(n >= 2, "linear probe: needs at least 2 training samples, got ", n);
  int64_t num_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(n)));
  if (val_fraction > 0.0) num_val = std::clamp<int64_t>(num_val, 1, n - 1);
  TORCH_CHECK_VALUE(n - num_val > 0, "linear probe: needs at least 2 training samples, got ", n);

  const auto order = seeded_permutation(n, seed);
  const auto val_index = std::get<0>(order.slice(0, 0, num_val).sort());
  const auto train_index = std::get<0>(order.slice(0, num_val, n).sort());
  const auto x = train.features.to(torch::kFloat);
  ProbeData data;
  data.num_classes = num_classes;
  data.train_x = x.index_select(0, train_index);
  data.train_y = train.labels.to(torch::kLong).index_select(0, train_index);
  data.val_x = x.index_select(0, val_index);
  data.val_y = train.labels.to(torch::kLong).index_select(0, val_index);
  data.test_x = test.features.to(torch::kFloat);
  data.test_y = test.labels.to(torch::kLong);

  const auto mean = data.train_x.mean(0, /*keepdim=*/true);
  // A constant dimension keeps scale 1 instead of dividing by zero.
  const auto std = data.train_x.std(0, /*unbiased=*/false, /*keepdim=*/true).clamp_min(1e-6);
  data.train_x = (data.train_x - mean) / std;
  data.val_x = (data.val_x - mean) / std;
  data.test_x = (data.test_x - mean) / std;
  return data;
}

Accuracy accuracy_of(const torch::Tensor& logits, const torch::Tensor& labels) {
  Accuracy accuracy;
  const int64_t n = logits.size(0);
  if (n == 0) return accuracy;
  const auto ranked = std::get<1>(logits.topk(std::min<int64_t>(5, logits.size(1)), 1));
  const auto hits = ranked.eq(labels.to(ranked.device()).unsqueeze(1));
  accuracy.top1 = 100.0 * hits.select(1, 0).sum().item<double>() / static_cast<double>(n);
  accuracy.top5 = 100.0 * hits.any(1).sum().item<double>() / static_cast<double>(n);
  return accuracy;
}

}  // namespace pretext
