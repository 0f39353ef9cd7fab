// Stopping a run by signal, through the real executable: SIGTERM or SIGINT mid-epoch writes a
// checkpoint at the step reached and exits with 130, `--resume auto` continues from it, and a
// second signal ends the process at once (exit 128 + signal) without waiting for the step.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/launch/process.h"
#include "tests/test_util.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::pretext_binary;
using testing::read_file;
using testing::run_command;
using testing::run_pretext;
using testing::shell_quoted;

// Long enough that no run ends by itself before it is signalled (1024 images, batch 256).
const std::string kLongRun =
    "train --config configs/simclr_resnet18_fmnist.cfg --data.limit=1024 --train.batch_size=256 "
    "--train.epochs=1000 --model.width=0.125 --simclr.proj_hidden_dim=32 "
    "--simclr.proj_output_dim=16 --train.log_every=1 --train.threads=1 --data.num_workers=1 "
    "--train.progress=false --eval.after_train=false ";

/// Starts a long run in `dir`, waits until it has logged a step, sends `signals` (separated by
/// `gap` seconds) and prints "exit N" with the run's exit code.
std::string signal_script(const fs::path& dir, const std::vector<std::string>& signals,
                          const std::string& gap) {
  std::ostringstream s;
  s << "cd '" << PRETEXT_SOURCE_DIR << "'\n"
    << "'" << pretext_binary() << "' " << kLongRun << "--output " << shell_quoted(dir / "run")
    << " > " << shell_quoted(dir / "run.log") << " 2>&1 &\n"
    << "pid=$!\n"
    << "for i in $(seq 1200); do [ -s " << shell_quoted(dir / "run" / "metrics.jsonl")
    << " ] && break; sleep 0.1; done\n";
  for (size_t i = 0; i < signals.size(); ++i) {
    if (i > 0) s << "sleep " << gap << "\n";
    s << "kill -" << signals[i] << " $pid\n";
  }
  s << "wait $pid; echo \"exit $?\"\n";
  return s.str();
}

/// Stops a long run in `dir` with `signal` (number `number`) once it has logged a step;
/// expects exit 130 after a checkpoint and returns the checkpoint's step.
int64_t expect_checkpointed_stop(const fs::path& dir, const std::string& signal, int number) {
  std::ofstream(dir / "stop.sh") << signal_script(dir, {signal}, "0");
  const auto result = run_command("bash " + shell_quoted(dir / "stop.sh"));
  const std::string log = read_file(dir / "run.log");
  EXPECT_EQ(result.output, "exit 130\n") << log;
  EXPECT_NE(log.find("stopped by signal " + std::to_string(number) + " after checkpointing"),
            std::string::npos)
      << log;
  const auto checkpoint = dir / "run" / "checkpoints" / "last.ckpt";
  if (!fs::exists(checkpoint)) {
    ADD_FAILURE() << "no checkpoint after SIG" << signal << "\n" << log;
    return 0;
  }
  const int64_t step = std::stoll(read_tensor_file(checkpoint.string()).meta("step"));
  EXPECT_GE(step, 1);
  return step;
}

TEST(SignalTest, SigtermCheckpointsExits130AndResumeContinues) {
  const auto dir = fresh_dir("signal_term");
  const int64_t step = expect_checkpointed_stop(dir, "TERM", 15);
  ASSERT_GE(step, 1);
  // The run continues from that step.
  const auto resumed =
      run_pretext(kLongRun + "--output " + shell_quoted(dir / "run") + " --resume auto " +
                  "--train.max_steps=" + std::to_string(step + 1));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("at step " + std::to_string(step)), std::string::npos)
      << resumed.output;
  EXPECT_EQ(read_tensor_file((dir / "run" / "checkpoints" / "last.ckpt").string()).meta("step"),
            std::to_string(step + 1));
}

TEST(SignalTest, SigintCheckpointsAndExits130) {
  expect_checkpointed_stop(fresh_dir("signal_int"), "INT", 2);
}

TEST(SignalTest, ASecondSignalExitsAtOnce) {
  const auto dir = fresh_dir("signal_twice");
  // SIGINT asks for a checkpoint at the end of the step; SIGTERM 50 ms later, well inside the
  // step, ends the process at once with 128 + 15 and no "after checkpointing" message.
  std::ofstream(dir / "twice.sh") << signal_script(dir, {"INT", "TERM"}, "0.05");
  const auto result = run_command("bash " + shell_quoted(dir / "twice.sh"));
  const std::string log = read_file(dir / "run.log");
  EXPECT_EQ(result.output, "exit 143\n") << log;
  EXPECT_EQ(log.find("after checkpointing"), std::string::npos) << log;
}

}  // namespace
}  // namespace pretext
