// Online linear probe (solo-learn's online classifier): a linear head trained on detached
// features of the evaluated encoder while the objective pretrains, so accuracy can be watched
// per step without stopping the run. Labels reach this head only; the encoder sees no
// gradient from it. Its weights and momentum are buffers, so checkpoints carry them and a
// resumed run continues it exactly.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "distributed/comm.h"
#include "models/backbone.h"

namespace pretext {

struct OnlineProbeOptions {
  TORCH_ARG(bool, enabled) = false;
  /// Peak SGD learning rate, cosine-decayed over the run (solo-learn: 0.1).
  TORCH_ARG(double, lr) = 0.1;
  TORCH_ARG(double, momentum) = 0.9;
};

class OnlineProbeImpl : public torch::nn::Module {
 public:
  OnlineProbeImpl(int64_t feature_dim, int64_t num_classes, OnlineProbeOptions options);

  /// One SGD step on the features of `encoder` (run in eval mode under no-grad, so BatchNorm
  /// statistics are untouched) for `images` with `labels` (-1 = unlabelled, ignored).
  /// `progress` in [0, 1] sets the cosine learning rate. Gradients are averaged over ranks.
  /// Returns online_probe/loss and online_probe/acc1 of the batch before the step.
  std::vector<std::pair<std::string, torch::Tensor>> train_on(Backbone& encoder,
                                                              const torch::Tensor& images,
                                                              const torch::Tensor& labels,
                                                              double progress, Comm& comm);

  /// Logits [B, C] of features [B, D].
  torch::Tensor forward(const torch::Tensor& features) const;

 private:
  OnlineProbeOptions options_;
  torch::Tensor weight_, bias_;                    // [C, D], [C]
  torch::Tensor weight_velocity_, bias_velocity_;  // SGD momentum
};
TORCH_MODULE(OnlineProbe);

}  // namespace pretext
