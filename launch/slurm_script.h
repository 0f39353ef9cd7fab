// `pretext launch slurm`: an sbatch script that runs one pretext rank per GPU through srun.
// pretext reads SLURM_PROCID / SLURM_LOCALID / SLURM_NTASKS / SLURM_NODELIST itself, so the
// script only reserves the resources and picks a rendezvous port.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pretext {

struct SlurmScriptOptions {
  int64_t nodes = 1;
  int64_t gpus_per_node = 1;
  int64_t cpus_per_task = 8;
  std::string job_name = "pretext";
  std::string time = "24:00:00";
  std::string partition;  ///< empty: the cluster's default
  int64_t master_port = 29500;
};

/// The script text; `executable` and `args` form the command each task runs. Throws
/// c10::ValueError naming the flag for impossible values.
std::string slurm_script(const SlurmScriptOptions& options, const std::string& executable,
                         const std::vector<std::string>& args);

/// Quotes `word` for a POSIX shell.
std::string shell_quote(const std::string& word);

}  // namespace pretext
