// `pretext launch`: starts this node's ranks of a job as child processes with the torchrun
// environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
// prefixes their output with the rank, forwards SIGINT/SIGTERM, and when one rank fails stops
// the others and, while restarts remain, starts the group again with `--resume auto`.
// Follows torch.distributed.run's local agent (one node's worker group, restart-all policy).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pretext {

struct LaunchOptions {
  int64_t nproc_per_node = 1;
  int64_t nnodes = 1;
  int64_t node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  /// Times the whole local group is restarted after a failure (torchrun --max-restarts).
  int64_t max_restarts = 0;
  /// Seconds the other ranks get to exit after SIGTERM before SIGKILL.
  double stop_grace_s = 10.0;
};

/// Throws c10::ValueError naming the flag when the layout is impossible.
void check_launch_options(const LaunchOptions& options);

/// Runs `executable args...` once per local rank until the group succeeds, fails with no
/// restarts left, or is stopped by a signal. Returns the exit code for the launcher: 0, the
/// failed rank's code (or 128 + its signal), or 128 + the signal that stopped the launcher.
int run_local_group(const LaunchOptions& options, const std::string& executable,
                    const std::vector<std::string>& args);

/// args with `--resume auto` added unless a --resume is already there.
std::vector<std::string> with_resume_auto(std::vector<std::string> args);

}  // namespace pretext
