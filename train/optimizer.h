// SGD with momentum, LARS (You et al., arXiv:1708.03888; SimCLR, BYOL) and AdamW (Loshchilov &
// Hutter, arXiv:1711.05101; MAE, DINO-ViT, MoCo v3). Following solo-learn/lightly/timm,
// parameters with one dimension (biases, norm scales and shifts) get neither weight decay nor
// the LARS trust-ratio adaptation. The state (momentum / Adam moments and step counts) is
// exposed by name so checkpoints are not pickles.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace pretext {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct OptimizerOptions {
  /// sgd | lars | adamw.
  TORCH_ARG(std::string, name) = "lars";
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 1e-6;
  /// Weight decay at the last step, reached by a cosine ramp from weight_decay (DINO ViT:
  /// 0.04 -> 0.4); negative keeps weight_decay constant. Applied by the trainer through
  /// step(lr, weight_decay).
  TORCH_ARG(double, weight_decay_final) = -1.0;
  /// LARS trust coefficient eta (SimCLR: 0.001).
  TORCH_ARG(double, trust_coefficient) = 0.001;
  TORCH_ARG(bool, nesterov) = false;
  /// AdamW moment coefficients (PyTorch: 0.9, 0.999; MAE: 0.9, 0.95) and epsilon.
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-8;
  /// Exempt 1-d parameters (biases, BatchNorm) from weight decay and LARS adaptation.
  TORCH_ARG(bool, exclude_bias_and_norm) = true;
};

class Optimizer {
 public:
  /// params: (name, parameter) pairs; names key the state in checkpoints. Parameters without
  /// requires_grad are skipped.
  Optimizer(const NamedTensors& params, OptimizerOptions options);

  /// One update with learning rate `lr` from the current .grad() of each parameter;
  /// parameters whose grad is undefined are left unchanged.
  void step(double lr) { step(lr, options_.weight_decay()); }
  /// The same with this step's weight decay in place of options().weight_decay().
  void step(double lr, double weight_decay);
  void zero_grad();

  /// "<kind>/<param name>" -> buffer for every buffer created so far; kinds are "momentum"
  /// (sgd, lars) and "exp_avg", "exp_avg_sq", "step" (adamw). The tensors are the live
  /// buffers, not copies: write or clone them before the next step().
  NamedTensors state() const;
  /// Restores state() output; a name that matches no parameter or a shape mismatch throws.
  /// Buffers absent from `state` are reset, as in a freshly built optimizer.
  void load_state(const std::map<std::string, torch::Tensor>& state);
  const OptimizerOptions& options() const { return options_; }

 private:
  /// `excluded`: a 1-d parameter exempt from decay (already 0 here) and LARS adaptation.
  void sgd_or_lars_update(size_t i, double lr, double weight_decay, bool excluded);
  void adamw_update(size_t i, double lr, double weight_decay);
  /// Buffers of one kind, parallel to params_, undefined until a parameter's first step.
  std::vector<torch::Tensor>& buffers(const std::string& kind);

  OptimizerOptions options_;
  NamedTensors params_;
  std::map<std::string, std::vector<torch::Tensor>> state_;  // kind -> buffers
};

}  // namespace pretext
