// Frozen-feature extraction for k-NN and linear probes, as in DINO's eval_knn.py
// (extract_features): eval mode, no grad, features gathered from every rank and put back in
// dataset order by sample index.
// Deviations: the gather runs per batch on the model's device (bounded memory; NCCL needs
// device tensors), and rows are sorted by index with duplicates dropped, so the result does
// not depend on the world size, the sampler's shuffle or its wrap-around padding.
#include "evaluation/features.h"

namespace pretext {
namespace {

/// Restores a module's training flag when extraction ends, also when it throws.
class EvalModeScope {
 public:
  explicit EvalModeScope(torch::nn::Module& module)
      : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeScope() { module_.train(was_training_); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

/// Concatenated batches -> rows sorted by dataset index, each index once.
Features in_index_order(const std::vector<torch::Tensor>& features,
                        const std::vector<torch::Tensor>& labels,
                        const std::vector<torch::Tensor>& indices) {
  TORCH_INTERNAL_ASSERT(!features.empty() && features.size() == labels.size() &&
                        features.size() == indices.size());
  const auto all_features = torch::cat(features);
  const auto all_labels = torch::cat(labels);
  const auto sorted = torch::cat(indices).sort();
  const auto& sorted_indices = std::get<0>(sorted);
  const auto& order = std::get<1>(sorted);
  auto first = torch::ones_like(sorted_indices, torch::kBool);
  if (sorted_indices.size(0) > 1) {
    first.slice(0, 1) = sorted_indices.slice(0, 1).ne(sorted_indices.slice(0, 0, -1));
  }
  const auto keep = order.masked_select(first);
  return {all_features.index_select(0, keep).contiguous(),
          all_labels.index_select(0, keep).contiguous()};
}

}  // namespace

Features extract_features(Backbone& backbone, Loader& loader, const std::vector<double>& mean,
                          const std::vector<double>& std, const torch::Device& device, Comm& comm) {
  torch::NoGradGuard no_grad;
  EvalModeScope eval_mode(backbone);
  const bool distributed = comm.world_size() > 1;
  std::vector<torch::Tensor> features;
  std::vector<torch::Tensor> labels;
  std::vector<torch::Tensor> indices;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    TORCH_CHECK(!batch->views.empty(), "extract_features: the loader's batches carry no view");
    const auto images = to_normalized_float(batch->views[0], mean, std, device);
    auto f = backbone.forward(images);
    TORCH_CHECK(f.dim() == 2 && f.size(0) == images.size(0), "extract_features: ", backbone.arch(),
                " returned ", f.sizes(), " for images ", images.sizes(), ", expected [",
                images.size(0), ", D]");
    auto l = batch->labels;
    auto i = batch->indices;
    if (distributed) {
      // Every rank serves the same number of equal-sized batches, so per-batch gathers match.
      f = comm.all_gather(f.contiguous());
      l = comm.all_gather(l.to(device));
      i = comm.all_gather(i.to(device));
    }
    features.push_back(f.to(torch::kCPU, torch::kFloat));
    labels.push_back(l.to(torch::kCPU, torch::kLong));
    indices.push_back(i.to(torch::kCPU, torch::kLong));
  }
  TORCH_CHECK(!features.empty(), "extract_features: the loader served no batch");
  return in_index_order(features, labels, indices);
}

Features pixel_features(Loader& loader) {
  std::vector<torch::Tensor> features;
  std::vector<torch::Tensor> labels;
  std::vector<torch::Tensor> indices;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    TORCH_CHECK(!batch->views.empty(), "pixel_features: the loader's batches carry no view");
    features.push_back(batch->views[0].to(torch::kFloat).div_(255.0).flatten(1));
    labels.push_back(batch->labels.to(torch::kLong));
    indices.push_back(batch->indices.to(torch::kLong));
  }
  TORCH_CHECK(!features.empty(), "pixel_features: the loader served no batch");
  return in_index_order(features, labels, indices);
}

}  // namespace pretext
