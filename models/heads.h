// Small composable heads: the MLP used as SimCLR/MoCo/BYOL projector and predictor.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace pretext {

struct MlpHeadOptions {
  explicit MlpHeadOptions(std::vector<int64_t> dims) : dims_(std::move(dims)) {}
  /// in -> hidden (BN, ReLU) -> out, the SimCLR/BYOL projector shape.
  static MlpHeadOptions two_layer(int64_t in, int64_t hidden, int64_t out) {
    return MlpHeadOptions({in, hidden, out});
  }
  /// Layer widths, input first; at least two entries.
  TORCH_ARG(std::vector<int64_t>, dims);
  /// BatchNorm1d after every hidden linear layer (SimCLR v2, BYOL: yes).
  TORCH_ARG(bool, hidden_batch_norm) = true;
  /// Affine-free BatchNorm1d on the output (SimSiam/Barlow-style projectors).
  TORCH_ARG(bool, output_batch_norm) = false;
  /// Bias on linear layers followed by BatchNorm is redundant; kept for parity with references.
  TORCH_ARG(bool, bias) = true;
};

class MlpHeadImpl : public torch::nn::Module {
 public:
  explicit MlpHeadImpl(MlpHeadOptions options);
  /// [B, dims.front()] -> [B, dims.back()].
  torch::Tensor forward(const torch::Tensor& x);
  const MlpHeadOptions& options() const { return options_; }

 private:
  MlpHeadOptions options_;
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(MlpHead);

}  // namespace pretext
