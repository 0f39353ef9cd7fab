// `pretext compare`: a report comparing objectives, from finished runs (--runs) or from configs
// trained first on the same backbone and data (--configs, once per seed). Runs that differ only
// in their seed are one row, as mean and standard deviation.
#include <filesystem>
#include <iostream>
#include <set>

#include "evaluation/comparison_report.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/run_summary.h"
#include "models/json_value.h"
#include "train/text_file.h"

namespace pretext {
namespace fs = std::filesystem;
namespace {

std::vector<int64_t> parse_seeds(const std::string& text) {
  std::vector<int64_t> seeds;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long long seed = std::strtoll(item.c_str(), &end, 10);
    TORCH_CHECK_VALUE(!item.empty() && end && *end == '\0',
                      "--seeds: expected comma-separated integers, got '", text, "'");
    seeds.push_back(seed);
    start = comma + 1;
  }
  return seeds;
}

// Runs one pretext command in this process; a non-zero exit stops the comparison.
void run_step(const std::vector<std::string>& args) {
  std::cout << "pretext compare: pretext";
  for (const auto& arg : args) std::cout << " " << arg;
  std::cout << std::endl;
  const CommandLine line = parse_command_line(args);
  int (*command)(const CommandLine&) = nullptr;
  if (line.command == "train") command = run_train_command;
  if (line.command == "knn") command = run_knn_command;
  if (line.command == "linear") command = run_linear_command;
  TORCH_INTERNAL_ASSERT(command != nullptr, "compare runs train, knn and linear only");
  const int code = command(line);
  TORCH_CHECK(code == 0, "pretext compare: 'pretext ", line.command, "' for ", args.at(2),
              " exited with code ", code, "; finished runs are kept, rerun to continue");
}

bool knn_has_few_shot(const fs::path& knn_json) {
  if (!fs::exists(knn_json)) return false;
  try {
    return parse_json(read_config_file(knn_json.string()), knn_json.string()).find("few_shot");
  } catch (const c10::Error&) {
    return false;  // unreadable: evaluate again
  }
}

// k-NN with few-shot, and the linear probes, on the run's last checkpoint unless present.
void evaluate_run(const fs::path& run, const std::vector<std::string>& overrides) {
  const std::string checkpoint = (run / "checkpoints" / "last.ckpt").string();
  TORCH_CHECK_VALUE(fs::exists(checkpoint), "run '", run.string(), "' has no ", checkpoint);
  std::vector<std::string> eval_overrides;
  for (const auto& o : overrides) {
    if (o.rfind("knn.", 0) == 0 || o.rfind("linear.", 0) == 0) eval_overrides.push_back("--" + o);
  }
  if (!knn_has_few_shot(run / "knn.json")) {
    std::vector<std::string> args = {"knn", "--checkpoint", checkpoint, "--few-shot"};
    args.insert(args.end(), eval_overrides.begin(), eval_overrides.end());
    run_step(args);
  }
  if (!fs::exists(run / "linear.json")) {
    std::vector<std::string> args = {"linear", "--checkpoint", checkpoint};
    args.insert(args.end(), eval_overrides.begin(), eval_overrides.end());
    run_step(args);
  }
}

// Trains every config once per seed under <out>/runs/ (resuming unfinished runs, reusing
// finished ones) and returns the run directories.
std::vector<std::string> train_configs(const CommandLine& line, const fs::path& out) {
  const auto& configs = line.lists.at("--configs");
  const std::vector<int64_t> seeds =
      line.has("--seeds") ? parse_seeds(line.value("--seeds")) : std::vector<int64_t>{0};
  std::set<std::string> stems;
  for (const auto& config : configs) {
    read_config_file(config);  // a missing file stops the comparison before any training
    TORCH_CHECK_VALUE(stems.insert(fs::path(config).stem().string()).second,
                      "--configs: two configs are named '", fs::path(config).stem().string(),
                      "'; their runs would share a directory under ", (out / "runs").string());
  }
  std::vector<std::string> runs;
  for (const auto& config : configs) {
    for (const int64_t seed : seeds) {
      const fs::path run =
          out / "runs" / (fs::path(config).stem().string() + "_seed" + std::to_string(seed));
      runs.push_back(run.string());
      if (knn_has_few_shot(run / "knn.json")) continue;  // finished and evaluated
      std::vector<std::string> args = {"train",
                                       "--config",
                                       config,
                                       "--output",
                                       run.string(),
                                       "--resume",
                                       "auto",
                                       "--train.seed=" + std::to_string(seed),
                                       "--eval.after_train=false"};
      for (const auto& o : line.overrides) args.push_back("--" + o);
      run_step(args);
    }
  }
  return runs;
}

}  // namespace

int run_compare_command(const CommandLine& line) {
  const bool from_configs = line.has("--configs");
  TORCH_CHECK_VALUE(from_configs != line.has("--runs"),
                    "pretext compare needs either --runs DIR... or --configs FILE...");
  TORCH_CHECK_VALUE(from_configs || !line.has("--seeds"),
                    "--seeds applies to --configs (runs given by --runs keep their own seeds)");
  const fs::path out = line.out();
  const std::vector<std::string> dirs =
      from_configs ? train_configs(line, out) : line.lists.at("--runs");
  if (from_configs || line.has("--evaluate")) {
    for (const auto& dir : dirs) evaluate_run(dir, line.overrides);
  }

  std::vector<RunSummary> runs;
  for (const auto& dir : dirs) runs.push_back(read_run_summary(dir));
  const ComparisonReport report = build_comparison_report(group_runs(runs));
  fs::create_directories(out);
  for (const auto& [name, svg] : report.charts) write_text_file_atomic((out / name).string(), svg);
  write_text_file_atomic((out / "report.md").string(), report.markdown);
  write_text_file_atomic((out / "report.html").string(), report.html);
  std::cout << report.markdown << "pretext: wrote " << (out / "report.md").string() << " and "
            << (out / "report.html").string() << "\n";
  return 0;
}

}  // namespace pretext
