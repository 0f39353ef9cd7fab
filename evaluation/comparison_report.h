// Objective-comparison reports: finished runs grouped by configuration (runs that differ only in
// their seed form one group, reported as mean and standard deviation), a table of cost and
// accuracy per group, and loss / accuracy curves over epochs, as Markdown and HTML with SVG
// charts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pretext {

/// What one finished run contributes to a comparison.
struct RunSummary {
  std::string dir;        ///< the run directory, as given
  std::string group_key;  ///< equal for runs that differ only in their seed
  std::string objective;
  std::string arch;
  int64_t seed = 0;
  int64_t epochs = 0;         ///< epochs trained (completed or started)
  double wall_seconds = 0.0;  ///< training time summed over the logged intervals
  double images_per_s = 0.0;  ///< images / wall_seconds
  std::vector<std::pair<double, double>> loss_by_epoch;  ///< (epoch, mean loss of its records)
  std::vector<std::pair<double, double>> knn_by_epoch;   ///< periodic k-NN top-1 (percent)
  std::vector<std::pair<double, double>> online_probe_by_epoch;  ///< mean online-probe acc1
  /// Final evaluations (percent): "k-NN", "linear (SGD)", "linear (L-BFGS)", "few-shot N".
  std::map<std::string, double> accuracies;
};

/// Runs sharing a group key, labelled for people.
struct RunGroup {
  std::string label;
  std::vector<RunSummary> runs;
};

/// Groups by group_key in the order groups first appear. Labels are the objective name, with
/// the architecture added where groups differ in it, and a #N suffix for the remaining clashes.
std::vector<RunGroup> group_runs(const std::vector<RunSummary>& runs);

struct MeanStd {
  double mean = 0.0;
  double std = 0.0;  ///< sample standard deviation (0 for one value)
  int64_t count = 0;
};
MeanStd mean_std(const std::vector<double>& values);

/// Files of a report, by name relative to the report directory.
struct ComparisonReport {
  std::string markdown;                       ///< report.md
  std::string html;                           ///< report.html (charts inline)
  std::map<std::string, std::string> charts;  ///< e.g. "loss.svg" -> SVG text
};

/// The table (one row per group: runs, epochs, wall time, images/s, every accuracy any run has,
/// mean +- std over seeds, the spread left out where the seeds agree exactly) and a chart per curve
/// any run logged (loss always; k-NN and online probe when present), each series the mean over the
/// group's seeds per epoch.
ComparisonReport build_comparison_report(const std::vector<RunGroup>& groups);

}  // namespace pretext
