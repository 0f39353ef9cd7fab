// `pretext audit`: open the configured dataset, read every sample once, and list each one that
// cannot be read with the reason. Exit 1 when any is unreadable, so scripts can gate on it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "data/audit.h"
#include "data/dataset.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/config.h"

namespace pretext {
namespace fs = std::filesystem;

int run_audit_command(const CommandLine& line) {
  RunConfig config;
  ConfigSources sources = dataset_argument_sources(line.value("--dataset"));
  if (!line.config_path().empty()) {
    sources.texts.emplace_back(line.config_path(), read_config_file(line.config_path()));
  }
  sources.overrides.insert(sources.overrides.end(), line.overrides.begin(), line.overrides.end());
  apply_config(config, sources);

  const std::string split = line.value("--split", "train");
  TORCH_CHECK_VALUE(split == "train" || split == "test" || split == "all",
                    "--split must be train, test or all, got '", split, "'");
  const std::string threads_text =
      line.value("--threads", std::to_string(std::max(1u, std::thread::hardware_concurrency())));
  int64_t threads = 0;
  try {
    threads = std::stoll(threads_text);
  } catch (const std::exception&) {
    threads = 0;
  }
  TORCH_CHECK_VALUE(threads >= 1, "--threads must be a positive integer, got '", threads_text, "'");

  std::ofstream out;
  if (!line.out().empty()) {
    out.open(line.out());
    TORCH_CHECK(out.good(), "--out: cannot write '", line.out(), "'");
    out << "split\tindex\tsource\treason\n";
  }
  int64_t unreadable = 0;
  const std::vector<std::string> splits =
      split == "all" ? std::vector<std::string>{"train", "test"} : std::vector<std::string>{split};
  for (const std::string& name : splits) {
    const auto data = open_dataset(config.dataset, name);
    const AuditReport report = audit_dataset(*data, threads);
    for (const UnreadableRecord& record : report.unreadable) {
      std::cout << record.source << "\t" << record.reason << "\n";
      if (out.is_open()) {
        out << name << "\t" << record.index << "\t" << record.source << "\t" << record.reason
            << "\n";
      }
    }
    std::cout << "pretext audit: " << data->describe() << ": " << report.listed << " listed, "
              << report.decoded << " decoded, " << report.unreadable.size() << " unreadable\n";
    unreadable += static_cast<int64_t>(report.unreadable.size());
  }
  if (out.is_open()) {
    out.close();
    TORCH_CHECK(out.good(), "--out: cannot write '", line.out(), "'");
    std::cout << "pretext audit: wrote " << line.out() << "\n";
  }
  return unreadable > 0 ? 1 : 0;
}

}  // namespace pretext
