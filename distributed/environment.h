// Where this process sits in a distributed job, read from the environment that torchrun
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or SLURM
// (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS, SLURM_NTASKS_PER_NODE, SLURM_NODELIST) set, so
// `torchrun --no-python pretext train ...` and `srun pretext train ...` work unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pretext {

struct DistributedEnv {
  int64_t rank = 0;
  int64_t local_rank = 0;
  int64_t world_size = 1;
  int64_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  /// "torchrun", "slurm" or "none" (a single process).
  std::string source = "none";
  /// torchrun's agent already hosts the store at MASTER_ADDR:MASTER_PORT
  /// (TORCHELASTIC_USE_AGENT_STORE=True): every rank joins it as a client, under the key
  /// prefix /worker/attempt_<restart_count>, as torch.distributed does.
  bool use_agent_store = false;
  int64_t restart_count = 0;  ///< TORCHELASTIC_RESTART_COUNT
};

/// Looks a variable up; std::nullopt when unset. Tests pass a map instead of the real env.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment (getenv).
EnvLookup process_env();

/// torchrun's variables win over SLURM's (torchrun under srun sets both); with neither, a
/// world of one. SLURM's master is the first host of SLURM_NODELIST, its port MASTER_PORT or
/// 29500. Malformed or inconsistent values throw c10::ValueError naming the variable.
DistributedEnv read_distributed_env(const EnvLookup& env);

/// Expands a SLURM host list: "node[01-03,7],gpu5" -> node01 node02 node03 node7 gpu5.
/// Zero padding of a range's first bound is kept. Throws c10::ValueError naming the list.
std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist);

}  // namespace pretext
