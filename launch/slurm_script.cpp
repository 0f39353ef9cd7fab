// The sbatch script writer.
#include "launch/slurm_script.h"

#include <sstream>

#include <torch/torch.h>

namespace pretext {

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=./:,@%") == std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string slurm_script(const SlurmScriptOptions& o, const std::string& executable,
                         const std::vector<std::string>& args) {
  TORCH_CHECK_VALUE(o.nodes >= 1, "--nodes must be >= 1, got ", o.nodes);
  TORCH_CHECK_VALUE(o.gpus_per_node >= 0, "--gpus-per-node must be >= 0, got ", o.gpus_per_node);
  TORCH_CHECK_VALUE(o.cpus_per_task >= 1, "--cpus-per-task must be >= 1, got ", o.cpus_per_task);
  TORCH_CHECK_VALUE(1 <= o.master_port && o.master_port <= 65535,
                    "--master-port must be in [1, 65535], got ", o.master_port);
  TORCH_CHECK_VALUE(!args.empty(), "pretext launch slurm: give the pretext command after '--'");
  // One task per GPU; a CPU-only job runs one task per node.
  const int64_t tasks_per_node = o.gpus_per_node > 0 ? o.gpus_per_node : 1;
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by pretext launch slurm; submit with: sbatch <this file>\n"
    << "#SBATCH --job-name=" << o.job_name << "\n"
    << "#SBATCH --nodes=" << o.nodes << "\n"
    << "#SBATCH --ntasks-per-node=" << tasks_per_node << "\n";
  if (o.gpus_per_node > 0) s << "#SBATCH --gpus-per-node=" << o.gpus_per_node << "\n";
  s << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n"
    << "#SBATCH --time=" << o.time << "\n";
  if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
  s << "#SBATCH --output=%x-%j.out\n"
    << "set -euo pipefail\n"
    << "# Rank 0 hosts the rendezvous on the first node of the allocation.\n"
    << "export MASTER_PORT=" << o.master_port << "\n"
    << "export OMP_NUM_THREADS=" << o.cpus_per_task << "\n"
    << "srun --kill-on-bad-exit=1 " << shell_quote(executable);
  for (const auto& a : args) s << " " << shell_quote(a);
  s << "\n";
  return s.str();
}

}  // namespace pretext
