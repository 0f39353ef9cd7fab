// MLP heads: SimCLR/MoCo v2 projectors, BYOL/SimSiam projectors and predictors.
// References: SimCLR v2 (arXiv:2006.10029) and BYOL (arXiv:2006.07733) heads as written in
// solo-learn and lightly (Linear -> BN -> ReLU per hidden layer, plain Linear output).
// BatchNorm is per process, or SyncBatchNorm with dist.sync_batch_norm (models/batch_norm.h).
#include "models/heads.h"

#include <utility>

#include "models/batch_norm.h"

namespace pretext {

MlpHeadImpl::MlpHeadImpl(MlpHeadOptions options) : options_(std::move(options)) {
  const auto& dims = options_.dims();
  TORCH_CHECK_VALUE(dims.size() >= 2, "MlpHead: dims needs at least input and output widths, got ",
                    torch::IntArrayRef(dims));
  for (const int64_t d : dims) {
    TORCH_CHECK_VALUE(d > 0, "MlpHead: every width must be positive, got ",
                      torch::IntArrayRef(dims));
  }
  layers_ = torch::nn::Sequential();
  const size_t num_linear = dims.size() - 1;
  for (size_t i = 0; i < num_linear; ++i) {
    layers_->push_back(
        torch::nn::Linear(torch::nn::LinearOptions(dims[i], dims[i + 1]).bias(options_.bias())));
    const bool hidden = i + 1 < num_linear;
    if (hidden) {
      if (options_.hidden_batch_norm()) {
        layers_->push_back(BatchNorm(dims[i + 1]));
      }
      layers_->push_back(torch::nn::ReLU());
    }
  }
  if (options_.output_batch_norm()) {
    layers_->push_back(BatchNorm(BatchNormOptions(dims.back()).affine(false)));
  }
  layers_ = register_module("layers", layers_);
}

torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.dims().front(), "MlpHead: expected input [B, ",
              options_.dims().front(), "], got ", x.sizes());
  return layers_->forward(x);
}

}  // namespace pretext
