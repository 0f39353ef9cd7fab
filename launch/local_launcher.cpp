// The local launcher: fork/exec per rank, a poll loop over the ranks' output pipes, and
// waitpid for their exits.
#include "launch/local_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <torch/torch.h>

namespace pretext {
namespace {

std::atomic<int> g_launcher_signal{0};  // process-wide by nature: signals are

void on_launcher_signal(int signal_number) { g_launcher_signal.store(signal_number); }

struct Child {
  int64_t rank = 0;
  pid_t pid = -1;
  int output = -1;      ///< read end of the rank's stdout+stderr pipe; -1 once closed
  std::string partial;  ///< output after the last newline
  bool running = true;
  int status = 0;
};

std::string exit_text(int status) {
  if (WIFSIGNALED(status)) {
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

Child spawn(const LaunchOptions& o, int64_t local_rank, const std::string& executable,
            const std::vector<std::string>& args, int64_t restart) {
  int fds[2];
  TORCH_CHECK(pipe(fds) == 0, "pretext launch: pipe failed: ", std::strerror(errno));
  const int64_t rank = o.node_rank * o.nproc_per_node + local_rank;
  const pid_t pid = fork();
  TORCH_CHECK(pid >= 0, "pretext launch: fork failed: ", std::strerror(errno));
  if (pid == 0) {
    // Own process group: a Ctrl-C reaches the launcher only, which forwards it once.
    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the launcher's death takes the ranks along
#endif
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    const auto set = [](const char* name, const std::string& value) {
      setenv(name, value.c_str(), 1);
    };
    set("RANK", std::to_string(rank));
    set("LOCAL_RANK", std::to_string(local_rank));
    set("WORLD_SIZE", std::to_string(o.nnodes * o.nproc_per_node));
    set("LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node));
    set("GROUP_RANK", std::to_string(o.node_rank));
    set("MASTER_ADDR", o.master_addr);
    set("MASTER_PORT", std::to_string(o.master_port));
    set("TORCHELASTIC_RESTART_COUNT", std::to_string(restart));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(executable.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(executable.c_str(), argv.data());
    std::fprintf(stderr, "pretext launch: cannot run %s: %s\n", executable.c_str(),
                 std::strerror(errno));
    std::_Exit(127);
  }
  close(fds[1]);
  Child child;
  child.rank = rank;
  child.pid = pid;
  child.output = fds[0];
  return child;
}

/// Copies whatever the ranks wrote, a whole line at a time with its rank in front.
void pump_output(std::vector<Child>& children, int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<Child*> owners;
  for (auto& c : children) {
    if (c.output < 0) continue;
    fds.push_back({c.output, POLLIN, 0});
    owners.push_back(&c);
  }
  if (fds.empty()) {
    poll(nullptr, 0, timeout_ms);
    return;
  }
  if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  char buffer[4096];
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Child& c = *owners[i];
    const ssize_t n = read(c.output, buffer, sizeof(buffer));
    if (n > 0) {
      c.partial.append(buffer, static_cast<size_t>(n));
    }
    size_t newline;
    while ((newline = c.partial.find('\n')) != std::string::npos) {
      std::cout << "[rank " << c.rank << "] " << c.partial.substr(0, newline + 1);
      c.partial.erase(0, newline + 1);
    }
    if (n <= 0 && !(n < 0 && errno == EINTR)) {
      if (!c.partial.empty()) std::cout << "[rank " << c.rank << "] " << c.partial << "\n";
      c.partial.clear();
      close(c.output);
      c.output = -1;
    }
  }
  std::cout.flush();
}

/// Reaps exited ranks; returns the first one found that failed, or nullptr.
Child* reap(std::vector<Child>& children) {
  Child* failed = nullptr;
  for (auto& c : children) {
    if (!c.running) continue;
    int status = 0;
    if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
      c.running = false;
      c.status = status;
      if (exit_code_of(status) != 0 && failed == nullptr) failed = &c;
    }
  }
  return failed;
}

bool any_running(const std::vector<Child>& children) {
  return std::any_of(children.begin(), children.end(), [](const Child& c) { return c.running; });
}

void signal_all(std::vector<Child>& children, int signal_number) {
  for (auto& c : children) {
    if (c.running) kill(c.pid, signal_number);
  }
}

/// SIGTERM, then SIGKILL after the grace period; returns once every rank is reaped.
void stop_all(std::vector<Child>& children, double grace_s) {
  signal_all(children, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
  while (any_running(children) && std::chrono::steady_clock::now() < deadline) {
    pump_output(children, 50);
    reap(children);
  }
  signal_all(children, SIGKILL);
  while (any_running(children)) {
    pump_output(children, 50);
    reap(children);
  }
}

struct GroupResult {
  int exit_code = 0;
  bool stopped_by_signal = false;
};

GroupResult run_once(const LaunchOptions& o, const std::string& executable,
                     const std::vector<std::string>& args, int64_t restart) {
  std::vector<Child> children;
  for (int64_t local = 0; local < o.nproc_per_node; ++local) {
    children.push_back(spawn(o, local, executable, args, restart));
  }
  GroupResult result;
  int forwarded = 0;
  while (any_running(children)) {
    pump_output(children, 100);
    const int pending = g_launcher_signal.load();
    if (pending != 0 && pending != forwarded) {
      // Forward once: the ranks checkpoint and exit (a second signal would kill them).
      std::cerr << "pretext launch: forwarding signal " << pending << " to the ranks\n";
      signal_all(children, pending);
      forwarded = pending;
      result.stopped_by_signal = true;
    }
    if (Child* failed = reap(children)) {
      if (result.stopped_by_signal) continue;  // they are stopping as asked
      std::cerr << "pretext launch: rank " << failed->rank << " (pid " << failed->pid << ") "
                << exit_text(failed->status) << "; stopping the other ranks\n";
      result.exit_code = exit_code_of(failed->status);
      stop_all(children, o.stop_grace_s);
    }
  }
  while (
      std::any_of(children.begin(), children.end(), [](const Child& c) { return c.output >= 0; })) {
    pump_output(children, 100);
  }
  if (result.stopped_by_signal) {
    result.exit_code = 128 + forwarded;
  } else if (result.exit_code == 0) {
    for (const auto& c : children) {
      if (exit_code_of(c.status) != 0) result.exit_code = exit_code_of(c.status);
    }
  }
  return result;
}

}  // namespace

void check_launch_options(const LaunchOptions& o) {
  TORCH_CHECK_VALUE(o.nproc_per_node >= 1, "--nproc-per-node must be >= 1, got ", o.nproc_per_node);
  TORCH_CHECK_VALUE(o.nnodes >= 1, "--nnodes must be >= 1, got ", o.nnodes);
  TORCH_CHECK_VALUE(0 <= o.node_rank && o.node_rank < o.nnodes, "--node-rank ", o.node_rank,
                    " is not inside --nnodes ", o.nnodes);
  TORCH_CHECK_VALUE(1 <= o.master_port && o.master_port <= 65535,
                    "--master-port must be in [1, 65535], got ", o.master_port);
  TORCH_CHECK_VALUE(!o.master_addr.empty(), "--master-addr must not be empty");
  TORCH_CHECK_VALUE(o.max_restarts >= 0, "--max-restarts must be >= 0, got ", o.max_restarts);
}

std::vector<std::string> with_resume_auto(std::vector<std::string> args) {
  const bool has_resume = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--resume" || a.rfind("--resume=", 0) == 0;
  });
  if (!has_resume) {
    args.push_back("--resume");
    args.push_back("auto");
  }
  return args;
}

int run_local_group(const LaunchOptions& options, const std::string& executable,
                    const std::vector<std::string>& args) {
  check_launch_options(options);
  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  for (int64_t attempt = 0;; ++attempt) {
    const GroupResult result =
        run_once(options, executable, attempt == 0 ? args : with_resume_auto(args), attempt);
    if (result.exit_code == 0 || result.stopped_by_signal) return result.exit_code;
    if (attempt >= options.max_restarts) {
      std::cerr << "pretext launch: the group failed";
      if (options.max_restarts > 0) std::cerr << " after " << options.max_restarts << " restarts";
      std::cerr << "\n";
      return result.exit_code;
    }
    std::cerr << "pretext launch: restarting the group from the last checkpoint (restart "
              << attempt + 1 << " of " << options.max_restarts << ")\n";
  }
}

}  // namespace pretext
