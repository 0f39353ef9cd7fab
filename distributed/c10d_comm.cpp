// C10dComm: Comm over a c10d process group. Tensors of different shapes travel as one flat
// buffer per dtype, so a list of gradients costs one collective, on Gloo and NCCL alike.
//
// Gloo headers: ProcessGroupGloo.hpp includes <gloo/...>, which the torch wheel does not ship
// (Gloo is compiled into libtorch_cpu). They come from Debian's libgloo-dev, which is older
// than the Gloo inside the wheel, and that is safe for the way pretext uses them: pretext
// never constructs or calls a Gloo class itself; it only passes on the shared_ptrs that
// libtorch's createDevice* return and constructs ProcessGroupGloo and its Options, whose
// Gloo members are all pointers. What pretext compiles against Gloo's declarations is thus
// the inline code of c10d's header, and a declaration that no longer matches it fails to
// compile instead of misbehaving. Torch's CMake targets define USE_C10D_GLOO (and
// USE_C10D_NCCL) for every file; PRETEXT_WITH_NCCL says this build has the NCCL headers.
#include "distributed/c10d_comm.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "distributed/bound_tcp_store.h"
#ifdef PRETEXT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <map>

namespace pretext {
namespace {

using Group = c10d::Backend;  // a process group's per-device implementation (Gloo, NCCL)

std::chrono::milliseconds timeout_of(const DistOptions& options) {
  TORCH_CHECK_VALUE(options.timeout_s() > 0.0, "dist.timeout_s must be > 0, got ",
                    options.timeout_s());
  return std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s() * 1000.0));
}

/// Tensors grouped by (dtype, device), each group flattened into one contiguous buffer.
struct FlatGroup {
  std::vector<size_t> members;  ///< indices into the caller's list
  torch::Tensor flat;
};

std::vector<FlatGroup> flatten(const std::vector<torch::Tensor>& tensors) {
  std::map<std::pair<int, std::string>, FlatGroup> groups;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    groups[{static_cast<int>(t.scalar_type()), t.device().str()}].members.push_back(i);
  }
  std::vector<FlatGroup> out;
  for (auto& [key, group] : groups) {
    std::vector<torch::Tensor> parts;
    for (size_t i : group.members) parts.push_back(tensors[i].detach().reshape(-1));
    group.flat = parts.size() == 1 && parts[0].is_contiguous() &&
                         parts[0].data_ptr() == tensors[group.members[0]].data_ptr()
                     ? parts[0]
                     : torch::cat(parts);
    out.push_back(std::move(group));
  }
  return out;
}

void unflatten(const std::vector<FlatGroup>& groups, std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& group : groups) {
    int64_t offset = 0;
    for (size_t i : group.members) {
      auto& t = tensors[i];
      const int64_t n = t.numel();
      auto part = group.flat.narrow(0, offset, n).view(t.sizes());
      if (part.data_ptr() != t.data_ptr()) t.copy_(part);
      offset += n;
    }
  }
}

std::string describe_failure(const std::string& collective, int64_t rank, int64_t world,
                             const std::exception& e) {
  std::string what = e.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    what = c10_error->what_without_backtrace();
  }
  return "dist: " + collective + " failed on rank " + std::to_string(rank) + " of " +
         std::to_string(world) + " (a peer died or timed out): " + what;
}

class C10dComm;

/// Flattened all-reduce in flight; wait() copies the sums back into the caller's tensors.
class FlatWork final : public CommWork {
 public:
  FlatWork(c10::intrusive_ptr<c10d::Work> work, std::vector<FlatGroup> groups,
           std::vector<torch::Tensor>* tensors, int64_t rank, int64_t world)
      : work_(std::move(work)),
        groups_(std::move(groups)),
        tensors_(*tensors),
        rank_(rank),
        world_(world) {}

  void wait() override {
    try {
      work_->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(describe_failure("all_reduce", rank_, world_, e));
    }
    unflatten(groups_, tensors_);
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::vector<FlatGroup> groups_;
  std::vector<torch::Tensor> tensors_;  // shallow copies share storage with the caller's
  int64_t rank_;
  int64_t world_;
};

class C10dComm final : public Comm {
 public:
  C10dComm(c10::intrusive_ptr<Group> group, int64_t rank, int64_t world)
      : group_(std::move(group)), rank_(rank), world_(world) {}

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override {
    all_reduce_sum_async(tensors)->wait();
  }

  std::unique_ptr<CommWork> all_reduce_sum_async(std::vector<torch::Tensor>& tensors) override {
    if (tensors.empty()) return std::make_unique<CompletedWork>();
    auto groups = flatten(tensors);
    // One collective per dtype group; all but the last are waited for here (rare: mixed dtypes).
    c10::intrusive_ptr<c10d::Work> last;
    for (size_t g = 0; g < groups.size(); ++g) {
      std::vector<torch::Tensor> buffer = {groups[g].flat};
      auto work = run("all_reduce", [&] { return group_->allreduce(buffer); });
      if (g + 1 < groups.size()) {
        wait_for("all_reduce", work);
      } else {
        last = work;
      }
    }
    return std::make_unique<FlatWork>(last, std::move(groups), &tensors, rank_, world_);
  }

  torch::Tensor all_gather(const torch::Tensor& tensor) override {
    TORCH_CHECK(tensor.dim() >= 1, "dist: all_gather needs a tensor with a batch dim, got ",
                tensor.sizes());
    // Ranks may hold different row counts (a last partial batch): gather the counts, pad.
    auto count = torch::full({1}, tensor.size(0), torch::TensorOptions().dtype(torch::kLong));
    auto counts = gather_equal(count.to(tensor.device()));
    const auto counts_cpu = counts.to(torch::kCPU);
    const int64_t max_rows = counts_cpu.max().item<int64_t>();
    auto input = tensor.detach().contiguous();
    if (input.size(0) < max_rows) {
      auto shape = input.sizes().vec();
      shape[0] = max_rows - input.size(0);
      input = torch::cat({input, torch::zeros(shape, input.options())});
    }
    auto gathered = gather_equal(input);  // [world * max_rows, ...]
    std::vector<torch::Tensor> rows;
    for (int64_t r = 0; r < world_; ++r) {
      rows.push_back(gathered.narrow(0, r * max_rows, counts_cpu[r].item<int64_t>()));
    }
    return torch::cat(rows);
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root) override {
    if (tensors.empty()) return;
    auto groups = flatten(tensors);
    for (auto& g : groups) {
      std::vector<torch::Tensor> buffer = {g.flat};
      c10d::BroadcastOptions opts;
      opts.rootRank = static_cast<int>(root);
      wait_for("broadcast", run("broadcast", [&] { return group_->broadcast(buffer, opts); }));
    }
    unflatten(groups, tensors);
  }

  void barrier() override {
    wait_for("barrier", run("barrier", [&] { return group_->barrier(); }));
  }

  void abort() override {
    // Gloo has no abort: peers see this process's connections close when it exits, and
    // their pending collectives fail at once instead of hanging.
  }

 private:
  /// Same-shape all-gather, concatenated along dim 0.
  torch::Tensor gather_equal(const torch::Tensor& input) {
    std::vector<torch::Tensor> inputs = {input};
    std::vector<std::vector<torch::Tensor>> outputs(1);
    for (int64_t r = 0; r < world_; ++r) outputs[0].push_back(torch::empty_like(input));
    wait_for("all_gather", run("all_gather", [&] { return group_->allgather(outputs, inputs); }));
    return torch::cat(outputs[0]);
  }

  template <typename Start>
  c10::intrusive_ptr<c10d::Work> run(const std::string& name, Start&& start) {
    try {
      return start();
    } catch (const std::exception& e) {
      throw std::runtime_error(describe_failure(name, rank_, world_, e));
    }
  }

  void wait_for(const std::string& name, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw std::runtime_error(describe_failure(name, rank_, world_, e));
    }
  }

  c10::intrusive_ptr<Group> group_;
  int64_t rank_;
  int64_t world_;
};

/// Gloo's transport: GLOO_SOCKET_IFNAME when set (as in PyTorch), loopback for a job on
/// 127.0.0.1, otherwise the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::unique_ptr<Comm> make_group(const c10::intrusive_ptr<c10d::Store>& store, int64_t rank,
                                 int64_t world, const DistOptions& options,
                                 const torch::Device& device, const std::string& master_addr) {
  const std::string backend = resolve_backend(options, device);
  const auto timeout = timeout_of(options);
  if (backend == "nccl") {
#ifdef PRETEXT_WITH_NCCL
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(rank),
                                                             static_cast<int>(world), nccl_options);
    return std::make_unique<C10dComm>(group, rank, world);
#endif
  }
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
  gloo_options->devices.push_back(gloo_device(master_addr));
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank),
                                                           static_cast<int>(world), gloo_options);
  return std::make_unique<C10dComm>(group, rank, world);
}

}  // namespace

std::string nccl_version_text() {
#ifdef PRETEXT_WITH_NCCL
  int loaded = 0;
  const std::string runtime = ncclGetVersion(&loaded) == ncclSuccess
                                  ? std::to_string(loaded / 10000) + "." +
                                        std::to_string(loaded / 100 % 100) + "." +
                                        std::to_string(loaded % 100)
                                  : "unknown";
  return std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + "." +
         std::to_string(NCCL_PATCH) + " (loaded " + runtime + ")";
#else
  return "none";
#endif
}

std::string resolve_backend(const DistOptions& options, const torch::Device& device) {
  const std::string& name = options.backend();
  TORCH_CHECK_VALUE(name == "auto" || name == "gloo" || name == "nccl",
                    "dist.backend must be auto, gloo or nccl, got '", name, "'");
#ifdef PRETEXT_WITH_NCCL
  const bool have_nccl = true;
#else
  const bool have_nccl = false;
#endif
  if (name == "nccl") {
    TORCH_CHECK_VALUE(have_nccl,
                      "dist.backend = nccl, but this pretext build has no NCCL; use "
                      "gloo or rebuild against a CUDA LibTorch");
    TORCH_CHECK_VALUE(device.is_cuda(), "dist.backend = nccl needs a CUDA train.device, got ",
                      device.str());
    return name;
  }
  if (name == "gloo") return name;
  return device.is_cuda() && have_nccl ? "nccl" : "gloo";
}

std::unique_ptr<Comm> connect_tcp(const DistributedEnv& env, const DistOptions& options,
                                  const torch::Device& device) {
  c10::intrusive_ptr<c10d::Store> store;
  try {
    if (env.use_agent_store) {
      // torchrun's agent hosts a c10d TCPStore already; join it as a client.
      c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<uint16_t>(env.master_port);
      store_options.isServer = false;
      store_options.numWorkers = static_cast<size_t>(env.world_size);
      store_options.waitWorkers = false;
      store_options.timeout = timeout_of(options);
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    } else {
      // Rank 0 hosts the store, listening on MASTER_ADDR only.
      store = make_bound_tcp_store(env.master_addr, static_cast<int>(env.master_port),
                                   env.rank == 0, timeout_of(options));
    }
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "dist: rank ", env.rank, " of ", env.world_size, " could not rendezvous at ",
                env.master_addr, ":", env.master_port, " (", env.source,
                " environment): ", e.what(),
                "; check MASTER_ADDR/MASTER_PORT and that every rank was started");
  }
  if (env.use_agent_store) {
    store = c10::make_intrusive<c10d::PrefixStore>(
        "/worker/attempt_" + std::to_string(env.restart_count), store);
  }
  return make_group(store, env.rank, env.world_size, options, device, env.master_addr);
}

std::unique_ptr<Comm> connect_file(const std::string& path, int64_t rank, int64_t world_size,
                                   const DistOptions& options, const torch::Device& device) {
  TORCH_CHECK_VALUE(0 <= rank && rank < world_size, "dist: rank ", rank,
                    " is not inside a world of ", world_size);
  auto store = c10::make_intrusive<c10d::FileStore>(path, static_cast<int>(world_size));
  return make_group(store, rank, world_size, options, device, "127.0.0.1");
}

std::unique_ptr<Comm> connect_from_env(const DistributedEnv& env, const DistOptions& options,
                                       const torch::Device& device) {
  resolve_backend(options, device);  // a bad dist.backend fails even on one process
  if (env.world_size == 1) return std::make_unique<LocalComm>();
  return connect_tcp(env, options, device);
}

}  // namespace pretext
