// Signal flag for graceful stops.
#include "train/stop_signal.h"

#include <atomic>
#include <csignal>
#include <cstdlib>

namespace pretext {
namespace {

std::atomic<int> g_signal{0};  // process-wide by nature: signals are

void on_signal(int signal_number) {
  if (g_signal.exchange(signal_number) != 0) std::_Exit(128 + signal_number);
}

}  // namespace

void install_stop_signal_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool stop_requested() { return g_signal.load() != 0; }

int stop_signal_number() { return g_signal.load(); }

}  // namespace pretext
