// GradientReducer: bucketed, overlapped gradient all-reduce.
#include "distributed/gradient_reducer.h"

namespace pretext {

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, Comm& comm,
                                 int64_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  TORCH_CHECK_VALUE(bucket_bytes > 0, "gradient buckets need a positive size, got ", bucket_bytes,
                    " bytes");
  slots_.resize(params_.size());
  // Reverse order: the last layers' gradients arrive first in backward.
  std::vector<std::vector<size_t>> groups;
  int64_t bytes = bucket_bytes;
  torch::ScalarType dtype = torch::kFloat;
  torch::Device device = torch::kCPU;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    TORCH_CHECK(p.requires_grad(), "GradientReducer: parameter ", k, " does not require grad");
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = bytes + size <= bucket_bytes || bytes == 0;
    if (groups.empty() || !fits || p.scalar_type() != dtype || p.device() != device) {
      groups.emplace_back();
      bytes = 0;
      dtype = p.scalar_type();
      device = p.device();
    }
    groups.back().push_back(k);
    bytes += size;
  }
  for (auto& group : groups) {
    Bucket bucket;
    int64_t offset = 0;
    for (size_t k : group) {
      slots_[k].bucket = buckets_.size();
      slots_[k].offset = offset;
      offset += params_[k].numel();
    }
    for (size_t k : group) slots_[k].flag = offset++;
    const auto& first = params_[group.front()];
    bucket.flat = torch::zeros({offset}, first.options().requires_grad(false));
    bucket.params = std::move(group);
    buckets_.push_back(std::move(bucket));
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    hooks_.push_back(
        params_[k].register_hook([this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < params_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void GradientReducer::prepare() {
  for (auto& bucket : buckets_) {
    TORCH_INTERNAL_ASSERT(!bucket.work, "GradientReducer: prepare() before finish()");
    bucket.flat.zero_();
    bucket.pending = bucket.params.size();
  }
  next_launch_ = 0;
  armed_ = true;
}

void GradientReducer::on_gradient(size_t index, const torch::Tensor& grad) {
  if (!armed_) return;
  const Slot& slot = slots_[index];
  Bucket& bucket = buckets_[slot.bucket];
  torch::NoGradGuard no_grad;
  bucket.flat.narrow(0, slot.offset, grad.numel()).copy_(grad.reshape(-1));
  bucket.flat[slot.flag].fill_(1.0);
  TORCH_INTERNAL_ASSERT(bucket.pending > 0, "GradientReducer: parameter ", index,
                        " got two gradients in one backward");
  if (--bucket.pending == 0) launch_ready_buckets();
}

void GradientReducer::launch(Bucket& bucket) {
  std::vector<torch::Tensor> buffer = {bucket.flat};
  bucket.work = comm_.all_reduce_sum_async(buffer);
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    launch(buckets_[next_launch_++]);
  }
}

void GradientReducer::finish() {
  TORCH_CHECK(armed_, "GradientReducer: finish() without prepare()");
  armed_ = false;
  // Buckets with unused parameters never filled up: their missing gradients count as zero.
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);
  torch::NoGradGuard no_grad;
  const double world = static_cast<double>(comm_.world_size());
  for (auto& bucket : buckets_) {
    auto work = std::move(bucket.work);
    work->wait();
    bucket.flat.div_(world);
    // One device-to-host read per bucket for its flags.
    const auto used = bucket.flat
                          .narrow(0, slots_[bucket.params.front()].flag,
                                  static_cast<int64_t>(bucket.params.size()))
                          .to(torch::kCPU, torch::kDouble);
    const auto* used_by = used.data_ptr<double>();
    for (size_t j = 0; j < bucket.params.size(); ++j) {
      const size_t k = bucket.params[j];
      const Slot& slot = slots_[k];
      if (used_by[j] == 0.0) continue;  // no rank used it
      auto& p = params_[k];
      const auto mean = bucket.flat.narrow(0, slot.offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
}

}  // namespace pretext
