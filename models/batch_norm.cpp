// BatchNorm with optional global statistics.
#include "models/batch_norm.h"

#include <vector>

namespace pretext {

BatchNormImpl::BatchNormImpl(BatchNormOptions options) : options_(std::move(options)) {
  const int64_t c = options_.num_features();
  TORCH_CHECK_VALUE(c > 0, "BatchNorm: num_features must be > 0, got ", c);
  TORCH_CHECK_VALUE(options_.eps() > 0.0, "BatchNorm: eps must be > 0, got ", options_.eps());
  TORCH_CHECK_VALUE(0.0 <= options_.momentum() && options_.momentum() <= 1.0,
                    "BatchNorm: momentum must be in [0, 1], got ", options_.momentum());
  if (options_.affine()) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
  }
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2 && x.size(1) == options_.num_features(),
              "BatchNorm: expected input [N, ", options_.num_features(), ", ...], got ", x.sizes());
  if (is_training() && reduce_) return synchronized_forward(x);
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  // As torch::nn::BatchNorm{1,2}d::forward.
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(),
                           options_.momentum(), options_.eps(), /*cudnn_enabled=*/true);
}

torch::Tensor BatchNormImpl::synchronized_forward(const torch::Tensor& x) {
  const int64_t c = options_.num_features();
  std::vector<int64_t> reduce_dims = {0};
  std::vector<int64_t> channel_shape(static_cast<size_t>(x.dim()), 1);
  channel_shape[1] = c;
  for (int64_t d = 2; d < x.dim(); ++d) reduce_dims.push_back(d);
  const auto xf = x.to(torch::kFloat);
  // Two passes (mean, then centred squares) keep the variance as accurate as local BatchNorm.
  const auto count = torch::full({1}, static_cast<double>(x.numel() / c), xf.options());
  const auto sums = reduce_(torch::cat({xf.sum(reduce_dims), count}));  // [C + 1]
  const auto n = sums.narrow(0, c, 1);
  const auto mean = sums.narrow(0, 0, c) / n;
  const auto centered = xf - mean.view(channel_shape);
  const auto var = reduce_(centered.pow(2).sum(reduce_dims)) / n;  // biased, [C]
  auto y = centered * torch::rsqrt(var + options_.eps()).view(channel_shape);
  if (options_.affine()) y = y * weight.view(channel_shape) + bias.view(channel_shape);
  {
    torch::NoGradGuard no_grad;
    const double total = n.item<double>();
    const double m = options_.momentum();
    running_mean.mul_(1.0 - m).add_(mean.detach().to(running_mean.dtype()), m);
    // The running variance is unbiased, as torch's.
    const double unbias = total > 1.0 ? total / (total - 1.0) : 1.0;
    running_var.mul_(1.0 - m).add_(var.detach().to(running_var.dtype()), m * unbias);
    num_batches_tracked.add_(1);
  }
  return y.to(x.scalar_type());
}

int64_t set_batch_norm_all_reduce(torch::nn::Module& root, const StatsAllReduce& reduce) {
  int64_t count = 0;
  for (auto& module : root.modules(/*include_self=*/true)) {
    if (auto* bn = module->as<BatchNormImpl>()) {
      bn->set_stats_all_reduce(reduce);
      ++count;
    }
  }
  return count;
}

}  // namespace pretext
