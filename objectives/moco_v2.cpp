// MoCo v2 objective.
#include "objectives/moco_v2.h"

#include "objectives/embedding_stats.h"
#include "objectives/info_nce.h"
#include "objectives/momentum.h"

namespace pretext {

OptionBindings bind_options(MocoV2Options& options) {
  return {
      {"proj_hidden_dim", "MLP head hidden width (paper: 2048)", &options.proj_hidden_dim()},
      {"proj_output_dim", "key/query width (paper: 128)", &options.proj_output_dim()},
      {"temperature", "InfoNCE temperature (MoCo v2: 0.2)", &options.temperature()},
      {"queue_size", "queued negative keys K (paper: 65536)", &options.queue_size()},
      {"momentum_base", "key-encoder EMA coefficient at the first step (paper: 0.999)",
       &options.momentum_base()},
      {"momentum_final",
       "EMA coefficient at the last step, cosine from momentum_base (equal = constant)",
       &options.momentum_final()},
      {"symmetric", "loss in both view directions, one queue per view (solo-learn mocov2plus)",
       &options.symmetric()},
  };
}

MocoV2Objective::MocoV2Objective(const ObjectiveContext& context, MocoV2Options options)
    : options_(std::move(options)), image_size_(context.image_size), comm_(context.comm) {
  TORCH_CHECK_VALUE(options_.proj_hidden_dim() > 0 && options_.proj_output_dim() > 0,
                    "moco_v2: head widths must be > 0, got ", options_.proj_hidden_dim(), " and ",
                    options_.proj_output_dim());
  TORCH_CHECK_VALUE(options_.temperature() > 0.0, "moco_v2: temperature must be > 0, got ",
                    options_.temperature());
  TORCH_CHECK_VALUE(options_.queue_size() >= 1, "moco_v2: queue_size must be >= 1, got ",
                    options_.queue_size());
  TORCH_CHECK_VALUE(0.0 <= options_.momentum_base() &&
                        options_.momentum_base() <= options_.momentum_final() &&
                        options_.momentum_final() <= 1.0,
                    "moco_v2: need 0 <= momentum_base <= momentum_final <= 1, got ",
                    options_.momentum_base(), " and ", options_.momentum_final());
  query_ = register_module("query", context.make_backbone());
  // MoCo v2's head: Linear, ReLU, Linear, no BatchNorm.
  const auto head = MlpHeadOptions::two_layer(query_->feature_dim(), options_.proj_hidden_dim(),
                                              options_.proj_output_dim())
                        .hidden_batch_norm(false);
  query_head_ = register_module("query_head", MlpHead(head));
  key_ = register_module("key", context.make_backbone());
  key_head_ = register_module("key_head", MlpHead(head));
  copy_parameters(*query_, *key_);
  copy_parameters(*query_head_, *key_head_);
  freeze(*key_);
  freeze(*key_head_);
  // Random unit keys, as the official code starts the queue.
  const int64_t num_queues = options_.symmetric() ? 2 : 1;
  queue_ = register_buffer(
      "queue", torch::nn::functional::normalize(
                   torch::randn({num_queues, options_.queue_size(), options_.proj_output_dim()}),
                   torch::nn::functional::NormalizeFuncOptions().dim(2)));
  queue_ptr_ = register_buffer("queue_ptr", torch::zeros({1}, torch::kLong));
}

LossOutput MocoV2Objective::compute_loss(const Batch& batch, const Step& step) {
  TORCH_CHECK(batch.views.size() == 2, "moco_v2: expected 2 views, got ", batch.views.size());
  const auto normalize = [](const torch::Tensor& x) {
    return torch::nn::functional::normalize(x,
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  };
  const auto embed = [&](const torch::Tensor& view) {
    return normalize(query_head_(query_->forward(view)));
  };
  const auto key_of = [&](const torch::Tensor& view) {
    torch::NoGradGuard no_grad;
    return normalize(key_head_(key_->forward(view)));
  };
  const auto q0 = embed(batch.views[0]);
  const auto k1 = key_of(batch.views[1]);
  LossOutput out;
  torch::Tensor positive_acc;
  if (options_.symmetric()) {
    const auto q1 = embed(batch.views[1]);
    const auto k0 = key_of(batch.views[0]);
    // Queue v holds keys of view v: each query meets negatives of the other view's kind.
    const auto a = info_nce_with_queue(q0, k1, queue_[1], options_.temperature());
    const auto b = info_nce_with_queue(q1, k0, queue_[0], options_.temperature());
    out.loss = (a.loss + b.loss) / 2.0;
    positive_acc = (a.positive_acc + b.positive_acc) / 2.0;
    pending_keys_ = {k0, k1};
  } else {
    const auto a = info_nce_with_queue(q0, k1, queue_[0], options_.temperature());
    out.loss = a.loss;
    positive_acc = a.positive_acc;
    pending_keys_ = {k1};
  }
  out.metrics = {{"moco/positive_acc", positive_acc}, {"moco/tau", torch::tensor(momentum(step))}};
  if (step.log_metrics) append_embedding_stats(q0.detach(), out.metrics);
  return out;
}

std::vector<MomentumPair> MocoV2Objective::momentum_pairs() {
  return {{query_.get(), key_.get()}, {query_head_.ptr().get(), key_head_.ptr().get()}};
}

namespace {

/// Every rank's keys in the order one rank with the whole batch would have them. The sampler
/// deals each epoch's permutation to the ranks in turn (rank r takes positions r, r + W, ...),
/// so the j-th sample of rank r's batch is the global batch's sample W * j + r. The queue is
/// a ring buffer: which keys a wrap overwrites depends on their order, so the order must not
/// depend on the number of ranks.
torch::Tensor in_global_batch_order(Comm& comm, const torch::Tensor& keys) {
  const int64_t world = comm.world_size();
  const auto gathered = comm.all_gather(keys);  // [W * b, D], rank-major
  return gathered.view({world, keys.size(0), keys.size(1)})
      .transpose(0, 1)
      .reshape({-1, keys.size(1)});
}

}  // namespace

double MocoV2Objective::momentum(const Step& step) const {
  return cosine_schedule(options_.momentum_base(), options_.momentum_final(), step);
}

void MocoV2Objective::update_state(const Step& /*step*/) {
  if (pending_keys_.empty()) return;
  const int64_t ptr = queue_ptr_.item<int64_t>();
  int64_t n = 0;
  for (size_t v = 0; v < pending_keys_.size(); ++v) {
    torch::Tensor keys = pending_keys_[v];
    if (comm_ != nullptr && comm_->world_size() > 1) keys = in_global_batch_order(*comm_, keys);
    enqueue(static_cast<int64_t>(v), keys, ptr);
    n = keys.size(0);
  }
  // The queues advance together: one pointer for all.
  queue_ptr_.fill_((ptr + n) % options_.queue_size());
  pending_keys_.clear();
}

void MocoV2Objective::enqueue(int64_t v, const torch::Tensor& keys, int64_t ptr) {
  torch::NoGradGuard no_grad;
  const int64_t capacity = options_.queue_size();
  const int64_t n = keys.size(0);
  // More keys than slots: only the newest K survive, written where they would have landed.
  const int64_t skip = std::max<int64_t>(0, n - capacity);
  const auto kept = keys.narrow(0, skip, n - skip).to(queue_.dtype());
  const auto slots =
      torch::arange(ptr + skip, ptr + n,
                    torch::TensorOptions().dtype(torch::kLong).device(queue_.device()))
          .remainder(capacity);
  queue_[v].index_copy_(0, slots, kept);
}

}  // namespace pretext
