// Reading the torchrun / SLURM environment.
#include "distributed/environment.h"

#include <cstdlib>

#include <torch/torch.h>

namespace pretext {
namespace {

int64_t parse_int(const std::string& name, const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK_VALUE(used == text.size() && !text.empty(), "environment variable ", name,
                    ": expected an integer, got '", text, "'");
  return value;
}

int64_t int_var(const EnvLookup& env, const std::string& name, int64_t fallback) {
  const auto text = env(name);
  return text ? parse_int(name, *text) : fallback;
}

void check_position(const DistributedEnv& e, const std::string& rank_var,
                    const std::string& world_var) {
  TORCH_CHECK_VALUE(e.world_size >= 1, world_var, " must be >= 1, got ", e.world_size);
  TORCH_CHECK_VALUE(0 <= e.rank && e.rank < e.world_size, rank_var, "=", e.rank, " is not inside ",
                    world_var, "=", e.world_size);
  TORCH_CHECK_VALUE(
      e.local_world_size >= 1 && 0 <= e.local_rank && e.local_rank < e.local_world_size,
      "local rank ", e.local_rank, " is not inside a local world of ", e.local_world_size, " (",
      rank_var, ", ", world_var, ")");
  TORCH_CHECK_VALUE(1 <= e.master_port && e.master_port <= 65535,
                    "MASTER_PORT must be a port number in [1, 65535], got ", e.master_port);
}

/// "01-03" -> 01 02 03; "7" -> 7.
void expand_range(const std::string& prefix, const std::string& range, const std::string& nodelist,
                  std::vector<std::string>& hosts) {
  const auto dash = range.find('-');
  const std::string first = range.substr(0, dash);
  const std::string last = dash == std::string::npos ? first : range.substr(dash + 1);
  const auto is_digits = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  };
  TORCH_CHECK_VALUE(is_digits(first) && is_digits(last), "SLURM_NODELIST '", nodelist,
                    "': bad range '", range, "' (expected N or N-M)");
  const int64_t lo = std::stoll(first);
  const int64_t hi = std::stoll(last);
  TORCH_CHECK_VALUE(lo <= hi, "SLURM_NODELIST '", nodelist, "': range '", range,
                    "' runs backwards");
  for (int64_t i = lo; i <= hi; ++i) {
    std::string digits = std::to_string(i);
    if (digits.size() < first.size()) digits.insert(0, first.size() - digits.size(), '0');
    hosts.push_back(prefix + digits);
  }
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist) {
  std::vector<std::string> hosts;
  size_t pos = 0;
  while (pos < nodelist.size()) {
    // One entry: a prefix, optionally followed by [ranges], up to the next top-level comma.
    const auto bracket = nodelist.find_first_of("[,", pos);
    if (bracket == std::string::npos || nodelist[bracket] == ',') {
      const auto end = bracket == std::string::npos ? nodelist.size() : bracket;
      TORCH_CHECK_VALUE(end > pos, "SLURM_NODELIST '", nodelist, "': empty host name at offset ",
                        pos);
      hosts.push_back(nodelist.substr(pos, end - pos));
      pos = end + 1;
      continue;
    }
    const std::string prefix = nodelist.substr(pos, bracket - pos);
    const auto close = nodelist.find(']', bracket);
    TORCH_CHECK_VALUE(close != std::string::npos, "SLURM_NODELIST '", nodelist, "': '[' at offset ",
                      bracket, " is never closed");
    const std::string ranges = nodelist.substr(bracket + 1, close - bracket - 1);
    size_t start = 0;
    while (start <= ranges.size()) {
      const auto comma = ranges.find(',', start);
      const auto end = comma == std::string::npos ? ranges.size() : comma;
      expand_range(prefix, ranges.substr(start, end - start), nodelist, hosts);
      start = end + 1;
    }
    pos = close + 1;
    TORCH_CHECK_VALUE(pos == nodelist.size() || nodelist[pos] == ',', "SLURM_NODELIST '", nodelist,
                      "': unexpected '", nodelist[pos], "' at offset ", pos);
    ++pos;
  }
  TORCH_CHECK_VALUE(!hosts.empty(), "SLURM_NODELIST is empty");
  return hosts;
}

DistributedEnv read_distributed_env(const EnvLookup& env) {
  DistributedEnv e;
  if (env("WORLD_SIZE") || env("RANK")) {
    TORCH_CHECK_VALUE(env("WORLD_SIZE") && env("RANK"),
                      "torchrun environment: RANK and WORLD_SIZE must be set together");
    e.source = "torchrun";
    e.rank = int_var(env, "RANK", 0);
    e.world_size = int_var(env, "WORLD_SIZE", 1);
    e.local_rank = int_var(env, "LOCAL_RANK", e.rank);
    e.local_world_size = int_var(env, "LOCAL_WORLD_SIZE", e.world_size);
    e.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
    e.master_port = int_var(env, "MASTER_PORT", 29500);
    e.use_agent_store = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
    e.restart_count = int_var(env, "TORCHELASTIC_RESTART_COUNT", 0);
    check_position(e, "RANK", "WORLD_SIZE");
    return e;
  }
  if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    e.source = "slurm";
    e.rank = int_var(env, "SLURM_PROCID", 0);
    e.world_size = int_var(env, "SLURM_NTASKS", 1);
    e.local_rank = int_var(env, "SLURM_LOCALID", 0);
    // SLURM_NTASKS_PER_NODE may read "4" or "4(x2)"; the leading count is the local world.
    if (const auto per_node = env("SLURM_NTASKS_PER_NODE")) {
      const auto count = per_node->substr(0, per_node->find('('));
      e.local_world_size = parse_int("SLURM_NTASKS_PER_NODE", count);
    } else {
      e.local_world_size = e.local_rank + 1;
    }
    if (const auto addr = env("MASTER_ADDR")) {
      e.master_addr = *addr;
    } else {
      const auto nodelist =
          env("SLURM_NODELIST") ? env("SLURM_NODELIST") : env("SLURM_JOB_NODELIST");
      TORCH_CHECK_VALUE(nodelist, "SLURM environment: SLURM_NODELIST (or MASTER_ADDR) is unset");
      e.master_addr = expand_slurm_nodelist(*nodelist).front();
    }
    e.master_port = int_var(env, "MASTER_PORT", 29500);
    check_position(e, "SLURM_PROCID", "SLURM_NTASKS");
    return e;
  }
  return e;
}

}  // namespace pretext
