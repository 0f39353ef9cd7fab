// Graceful stop: SIGINT/SIGTERM set a flag that the trainer polls between steps, so it can
// write a checkpoint and exit instead of dying mid-write. A second signal exits at once.
#pragma once

namespace pretext {

void install_stop_signal_handlers();
bool stop_requested();
/// The signal that asked for the stop (0 if none).
int stop_signal_number();

}  // namespace pretext
