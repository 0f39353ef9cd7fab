// `pretext launch`: the ranks of one node as local processes, or (`pretext launch slurm`) an
// sbatch script for a SLURM cluster.
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <iostream>

#include "launch/commands.h"
#include "launch/local_launcher.h"
#include "launch/slurm_script.h"
#include "train/text_file.h"

namespace pretext {
namespace {

int64_t int_flag(const CommandLine& line, const std::string& flag, int64_t fallback) {
  const std::string text = line.value(flag);
  if (text.empty()) return fallback;
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size()) throw UsageError(flag + " expects an integer, got '" + text + "'");
  return value;
}

/// This very binary, so the ranks run the same pretext as the launcher.
std::string own_executable() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  TORCH_CHECK(n > 0, "pretext launch: cannot find its own executable (/proc/self/exe)");
  return std::string(path, static_cast<size_t>(n));
}

int write_slurm_script(const CommandLine& line) {
  SlurmScriptOptions o;
  o.nodes = int_flag(line, "--nodes", o.nodes);
  o.gpus_per_node = int_flag(line, "--gpus-per-node", o.gpus_per_node);
  o.cpus_per_task = int_flag(line, "--cpus-per-task", o.cpus_per_task);
  o.master_port = int_flag(line, "--master-port", o.master_port);
  o.job_name = line.value("--job-name", o.job_name);
  o.time = line.value("--time", o.time);
  o.partition = line.value("--partition", o.partition);
  const std::string script = slurm_script(o, own_executable(), line.passthrough);
  const std::string out = line.value("--out", "pretext.sbatch");
  write_text_file_atomic(out, script);
  std::filesystem::permissions(out, std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  std::cout << "pretext: wrote " << out << "; submit it with: sbatch " << out << "\n";
  return 0;
}

}  // namespace

int run_launch_command(const CommandLine& line) {
  if (line.has("slurm")) return write_slurm_script(line);
  if (line.passthrough.empty()) {
    throw UsageError(
        "pretext launch: give the pretext command after '--', e.g. "
        "pretext launch --nproc-per-node 2 -- train --config FILE");
  }
  LaunchOptions o;
  o.nproc_per_node = int_flag(line, "--nproc-per-node", o.nproc_per_node);
  o.nnodes = int_flag(line, "--nnodes", o.nnodes);
  o.node_rank = int_flag(line, "--node-rank", o.node_rank);
  o.master_addr = line.value("--master-addr", o.master_addr);
  o.master_port = int_flag(line, "--master-port", o.master_port);
  o.max_restarts = int_flag(line, "--max-restarts", o.max_restarts);
  return run_local_group(o, own_executable(), line.passthrough);
}

}  // namespace pretext
