// DINO head.
// Reference: official DINOHead: Linear layers with truncated-normal(std 0.02) weights and zero
// biases, GELU between them, the last layer keeps PyTorch's default Linear init, weight_g = 1.
// Deviation: weight normalization is computed in forward() from weight_g and weight_v (what
// torch.nn.utils.weight_norm does in a pre-forward hook).
#include "models/dino_head.h"

#include <utility>

#include "models/batch_norm.h"

namespace pretext {
namespace {

/// Holds last_layer.weight_g / weight_v so their names match PyTorch's weight_norm.
class WeightNormLinearImpl : public torch::nn::Module {
 public:
  WeightNormLinearImpl(int64_t in, int64_t out, torch::Tensor* g, torch::Tensor* v) {
    // PyTorch's default Linear init: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    torch::NoGradGuard no_grad;
    // Registered in torch.nn.utils.weight_norm's order: weight_g, then weight_v.
    *g = register_parameter("weight_g", torch::ones({out, 1}));
    *v = register_parameter("weight_v", torch::empty({out, in}).uniform_(-bound, bound));
  }
};

void init_linear(torch::nn::Linear& linear) {
  torch::NoGradGuard no_grad;
  // trunc_normal_(std=.02) with the default cut-off at +-2 (absolute), as timm's helper.
  linear->weight.normal_(0.0, 0.02).clamp_(-2.0, 2.0);
  if (linear->bias.defined()) linear->bias.zero_();
}

}  // namespace

DinoHeadImpl::DinoHeadImpl(DinoHeadOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(
      o.in_dim() > 0 && o.out_dim() > 0 && o.hidden_dim() > 0 && o.bottleneck_dim() > 0,
      "DinoHead: widths must be > 0, got in_dim ", o.in_dim(), ", out_dim ", o.out_dim(),
      ", hidden_dim ", o.hidden_dim(), ", bottleneck_dim ", o.bottleneck_dim());
  TORCH_CHECK_VALUE(o.num_layers() >= 1, "DinoHead: num_layers must be >= 1, got ", o.num_layers());
  mlp_ = torch::nn::Sequential();
  if (o.num_layers() == 1) {
    torch::nn::Linear linear(o.in_dim(), o.bottleneck_dim());
    init_linear(linear);
    mlp_->push_back(linear);
  } else {
    int64_t in = o.in_dim();
    for (int64_t i = 0; i + 1 < o.num_layers(); ++i) {
      torch::nn::Linear linear(in, o.hidden_dim());
      init_linear(linear);
      mlp_->push_back(linear);
      if (o.use_bn()) mlp_->push_back(BatchNorm(o.hidden_dim()));
      mlp_->push_back(torch::nn::GELU());
      in = o.hidden_dim();
    }
    torch::nn::Linear bottleneck(in, o.bottleneck_dim());
    init_linear(bottleneck);
    mlp_->push_back(bottleneck);
  }
  mlp_ = register_module("mlp", mlp_);
  auto last = std::make_shared<WeightNormLinearImpl>(o.bottleneck_dim(), o.out_dim(), &weight_g_,
                                                     &weight_v_);
  register_module("last_layer", last);
  if (o.norm_last_layer()) weight_g_.set_requires_grad(false);
}

torch::Tensor DinoHeadImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == options_.in_dim(), "DinoHead: expected input [B, ",
              options_.in_dim(), "], got ", x.sizes());
  namespace F = torch::nn::functional;
  auto z = mlp_->forward(x);                                    // [B, bottleneck]
  z = F::normalize(z, F::NormalizeFuncOptions().dim(-1).p(2));  // unit bottleneck
  // weight_norm(dim=0): each prototype row is g * v / ||v||.
  const auto weight = weight_g_ * weight_v_ / weight_v_.norm(2, {1}, /*keepdim=*/true);
  return torch::matmul(z, weight.t());  // [B, out_dim]
}

std::vector<torch::Tensor> DinoHeadImpl::last_layer_parameters() const {
  return {weight_v_, weight_g_};
}

}  // namespace pretext
