// Loader: worker threads build batches ahead of the trainer, served in sampler order.
// Reference: torch.utils.data.DataLoader (num_workers, prefetch, drop_last, in-order results,
// worker errors re-raised in the main process).
// Deviations: threads instead of processes; a sample's RNG is seeded from (seed, epoch, index)
// rather than a per-worker seed, so pixels do not depend on the number of workers.
#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <opencv2/core.hpp>

namespace pretext {

namespace {

/// HWC view -> the CHW planes at `dst` (channels * size * size bytes).
void copy_chw(const cv::Mat& view, uint8_t* dst) {
  const int channels = view.channels();
  const size_t plane = static_cast<size_t>(view.rows) * static_cast<size_t>(view.cols);
  if (channels == 1) {
    for (int r = 0; r < view.rows; ++r) {
      std::memcpy(dst + static_cast<size_t>(r) * view.cols, view.ptr<uint8_t>(r), view.cols);
    }
    return;
  }
  for (int r = 0; r < view.rows; ++r) {
    const uint8_t* src = view.ptr<uint8_t>(r);
    for (int c = 0; c < view.cols; ++c) {
      for (int k = 0; k < channels; ++k) {
        dst[k * plane + static_cast<size_t>(r) * view.cols + c] = src[c * channels + k];
      }
    }
  }
}

std::string error_message(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

}  // namespace

struct Loader::State {
  struct Result {
    std::optional<HostBatch> batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const Dataset> dataset;
  std::shared_ptr<const ViewPlan> plan;
  ShardedSampler sampler;
  LoaderOptions options;
  int64_t batches_per_epoch = 0;
  bool pin_memory = false;  // page-locked batches when a GPU will receive them

  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a batch became claimable, or stop
  std::condition_variable ready_cv;  // next(): a batch finished
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> generation{0};  // bumped by start_epoch; stale work is dropped
  bool started = false;
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> indices;
  int64_t next_claim = 0;  // next batch a worker may take
  int64_t next_serve = 0;  // next batch next() returns
  std::map<int64_t, Result> finished;
  std::vector<std::thread> workers;

  bool skip_unreadable = false;
  ViewNeeds needs;  // lets readers decode large JPEGs smaller when no view loses detail
  mutable std::mutex unreadable_mutex;
  mutable std::set<int64_t> unreadable_indices;
  mutable std::vector<UnreadableRecord> unreadable;
  mutable std::atomic<int64_t> replaced{0};

  State(std::shared_ptr<const Dataset> d, std::shared_ptr<const ViewPlan> p, ShardedSampler s,
        LoaderOptions o)
      : dataset(std::move(d)), plan(std::move(p)), sampler(std::move(s)), options(std::move(o)) {}

  /// Builds batch `b` of `epoch`; nullopt if the loader moved on (or stops) meanwhile.
  std::optional<HostBatch> build(int64_t epoch_, const std::vector<int64_t>& order, int64_t b,
                                 uint64_t gen) const {
    const int64_t begin = b * options.batch_size();
    const int64_t count =
        std::min<int64_t>(options.batch_size(), static_cast<int64_t>(order.size()) - begin);
    const int64_t channels = dataset->channels();
    HostBatch batch;
    for (int64_t v = 0; v < plan->num_views(); ++v) {
      const int64_t size = plan->view_size(v);
      batch.views.push_back(
          torch::empty({count, channels, size, size},
                       torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(pin_memory)));
    }
    batch.labels = torch::empty({count}, torch::kInt64);
    batch.indices = torch::empty({count}, torch::kInt64);
    for (int64_t i = 0; i < count; ++i) {
      if (stop.load() || generation.load() != gen) {
        return std::nullopt;
      }
      const int64_t index = order[static_cast<size_t>(begin + i)];
      try {
        add_sample(batch, i, index, epoch_);
      } catch (const std::exception& e) {
        TORCH_CHECK(false, "Loader: sample ", index, " (epoch ", epoch_, ", batch ", b, ") of ",
                    dataset->describe(), ": ", error_message(e));
      }
    }
    return batch;
  }

  /// Sample `index`, or under on_error=skip the first readable one after it (wrapping), so
  /// the replacement depends only on the data, never on timing. Sets *used to its index.
  Sample read_sample(int64_t index, int64_t* used) const {
    const int64_t size = dataset->size();
    for (int64_t attempt = 0; attempt < size; ++attempt) {
      *used = (index + attempt) % size;
      try {
        Sample sample = dataset->get_for_views(*used, needs);
        if (attempt > 0) replaced.fetch_add(1);
        return sample;
      } catch (const UnreadableSample& e) {
        if (!skip_unreadable) throw;
        std::lock_guard<std::mutex> lock(unreadable_mutex);
        if (unreadable_indices.insert(*used).second) {
          unreadable.push_back({*used, e.source(), e.reason()});
        }
      }
    }
    TORCH_CHECK(false, "every one of the ", size, " samples is unreadable (data.on_error=skip ",
                "has nothing to replace them with); run pretext audit on the dataset");
    return {};
  }

  void add_sample(HostBatch& batch, int64_t i, int64_t requested, int64_t epoch_) const {
    int64_t index = requested;
    Sample sample = read_sample(requested, &index);
    TORCH_CHECK(sample.image.channels() == dataset->channels(), "image has ",
                sample.image.channels(), " channels, the dataset declares ", dataset->channels());
    // Seeded by the requested index: a replacement gets its own draw, the same on every run.
    Rng rng(sample_seed(options.seed(), static_cast<uint64_t>(epoch_),
                        static_cast<uint64_t>(requested)));
    const std::vector<cv::Mat> views = plan->make_views(sample.image, rng);
    for (size_t v = 0; v < views.size(); ++v) {
      torch::Tensor& out = batch.views[v];
      TORCH_INTERNAL_ASSERT(views[v].rows == out.size(2) && views[v].cols == out.size(3) &&
                                views[v].channels() == out.size(1) && views[v].depth() == CV_8U,
                            "view ", v, " is ", views[v].rows, "x", views[v].cols, "x",
                            views[v].channels(), ", expected ", out.sizes());
      copy_chw(views[v], out.data_ptr<uint8_t>() + i * out.stride(0));
    }
    batch.labels.data_ptr<int64_t>()[i] = sample.label;
    batch.indices.data_ptr<int64_t>()[i] = index;
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop.store(true);
    }
    work_cv.notify_all();
    for (std::thread& worker : workers) {
      worker.join();
    }
    workers.clear();
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_cv.wait(lock, [this] {
        return stop.load() || (started && next_claim < batches_per_epoch &&
                               next_claim < next_serve + options.prefetch_batches());
      });
      if (stop.load()) {
        return;
      }
      const int64_t b = next_claim++;
      const uint64_t gen = generation.load();
      const int64_t epoch_ = epoch;
      const std::shared_ptr<const std::vector<int64_t>> order = indices;
      lock.unlock();
      Result result;
      try {
        result.batch = build(epoch_, *order, b, gen);
      } catch (...) {
        result.error = std::current_exception();
      }
      lock.lock();
      if (gen == generation.load() && (result.batch || result.error)) {
        finished.emplace(b, std::move(result));
        ready_cv.notify_all();
      }
    }
  }
};

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const ViewPlan> plan,
               ShardedSampler sampler, LoaderOptions options) {
  TORCH_CHECK_VALUE(dataset != nullptr && plan != nullptr, "Loader: dataset and plan are required");
  TORCH_CHECK_VALUE(options.batch_size() > 0, "Loader: batch_size must be positive, got ",
                    options.batch_size());
  TORCH_CHECK_VALUE(options.num_workers() >= 0, "Loader: num_workers must be >= 0, got ",
                    options.num_workers());
  TORCH_CHECK_VALUE(options.prefetch_batches() > 0, "Loader: prefetch_batches must be positive, ",
                    "got ", options.prefetch_batches());
  TORCH_CHECK_VALUE(options.on_error() == "stop" || options.on_error() == "skip",
                    "data.on_error must be stop or skip, got '", options.on_error(), "'");
  const int64_t channels = dataset->channels();
  TORCH_CHECK_VALUE(channels == 1 || channels == 3, "Loader: ", dataset->describe(), " has ",
                    channels, " channels, expected 1 or 3");
  const int64_t samples = sampler.samples_per_rank();
  const int64_t batches = options.drop_last()
                              ? samples / options.batch_size()
                              : (samples + options.batch_size() - 1) / options.batch_size();
  TORCH_CHECK_VALUE(batches > 0, "Loader: ", samples, " samples per rank give no batch of ",
                    options.batch_size(), " with drop_last; lower batch_size");
  state_ = std::make_unique<State>(std::move(dataset), std::move(plan), std::move(sampler),
                                   std::move(options));
  state_->batches_per_epoch = batches;
  state_->pin_memory = torch::cuda::is_available();
  state_->skip_unreadable = state_->options.on_error() == "skip";
  state_->needs = state_->plan->needs();
  try {
    for (int64_t w = 0; w < state_->options.num_workers(); ++w) {
      state_->workers.emplace_back([state = state_.get()] { state->worker_loop(); });
    }
  } catch (...) {
    state_->stop_workers();
    throw;
  }
}

Loader::~Loader() { state_->stop_workers(); }

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  TORCH_CHECK_VALUE(epoch >= 0, "Loader: epoch must be >= 0, got ", epoch);
  TORCH_CHECK_VALUE(0 <= first_batch && first_batch <= state_->batches_per_epoch,
                    "Loader: first_batch ", first_batch, " outside [0, ", state_->batches_per_epoch,
                    "]");
  auto order = std::make_shared<const std::vector<int64_t>>(state_->sampler.indices(epoch));
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->generation.fetch_add(1);
    state_->started = true;
    state_->epoch = epoch;
    state_->indices = std::move(order);
    state_->next_claim = first_batch;
    state_->next_serve = first_batch;
    state_->finished.clear();
  }
  state_->work_cv.notify_all();
}

std::optional<HostBatch> Loader::next() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  TORCH_CHECK(s.started, "Loader: call start_epoch() before next()");
  if (s.next_serve >= s.batches_per_epoch) {
    return std::nullopt;
  }
  if (s.workers.empty()) {
    const int64_t b = s.next_serve++;
    lock.unlock();
    return s.build(s.epoch, *s.indices, b, s.generation.load());
  }
  s.ready_cv.wait(lock, [&s] { return s.finished.count(s.next_serve) > 0; });
  auto it = s.finished.find(s.next_serve);
  State::Result result = std::move(it->second);
  s.finished.erase(it);
  ++s.next_serve;
  lock.unlock();
  s.work_cv.notify_all();
  if (result.error) {
    std::rethrow_exception(result.error);
  }
  return std::move(result.batch);
}

int64_t Loader::batches_per_epoch() const { return state_->batches_per_epoch; }

std::vector<UnreadableRecord> Loader::unreadable_samples() const {
  std::lock_guard<std::mutex> lock(state_->unreadable_mutex);
  return state_->unreadable;
}

int64_t Loader::replaced_count() const { return state_->replaced.load(); }

torch::Tensor to_normalized_float(const torch::Tensor& images, const std::vector<double>& mean,
                                  const std::vector<double>& std, const torch::Device& device) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
              "to_normalized_float: expected uint8 [B, C, H, W], got ", images.scalar_type(), " ",
              images.sizes());
  const int64_t channels = images.size(1);
  TORCH_CHECK_VALUE((mean.size() == 1 || static_cast<int64_t>(mean.size()) == channels) &&
                        (std.size() == 1 || static_cast<int64_t>(std.size()) == channels),
                    "to_normalized_float: mean and std need 1 or ", channels, " values, got ",
                    mean.size(), " and ", std.size());
  for (const double s : std) {
    TORCH_CHECK_VALUE(s > 0.0, "to_normalized_float: std must be positive, got ", s);
  }
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto mean_t = torch::tensor(mean, torch::kDouble).to(on_device).view({1, -1, 1, 1});
  const auto std_t = torch::tensor(std, torch::kDouble).to(on_device).view({1, -1, 1, 1});
  // Pinned host memory lets the uint8 copy overlap with compute.
  torch::Tensor x = images.to(device, torch::kUInt8, /*non_blocking=*/images.is_pinned());
  return x.to(torch::kFloat).div_(255.0).sub_(mean_t).div_(std_t);
}

}  // namespace pretext
