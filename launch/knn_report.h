// k-NN evaluation of a backbone on the configured dataset (train split as the bank, test split
// as queries), optionally beside the two floors every pretrained backbone must beat: the same
// architecture at random init, and raw pixels.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "distributed/comm.h"
#include "evaluation/knn.h"
#include "launch/config.h"
#include "models/backbone.h"

namespace pretext {

struct KnnReport {
  std::vector<std::pair<std::string, KnnResult>> rows;  ///< (what was evaluated, result)
  int64_t bank_size = 0;
};

struct FeatureSet;

/// k-NN of every feature set (train as bank, test as queries), in order.
KnnReport knn_report_of(const std::vector<FeatureSet>& sets, int64_t num_classes,
                        const KnnOptions& options);

/// Evaluates `backbone` ("pretrained"); with `baselines`, also a freshly initialised
/// backbone of the same config ("random init") and raw pixels ("raw pixels").
KnnReport run_knn_report(Backbone& backbone, const RunConfig& config, Comm& comm, bool baselines);

/// A table for people.
std::string format_knn_table(const KnnReport& report, const KnnOptions& options);

/// {"<features>": {"top1": .., "top5": .., "num_queries": ..}, ...}
std::string knn_results_json(const KnnReport& report);

/// Writes `json` to `path` atomically, creating the parent directory.
void write_json_file(const std::string& path, const std::string& json);

/// Writes the report as JSON (atomically) to `path`; the path is named on failure.
void write_knn_json(const std::string& path, const KnnReport& report, const KnnOptions& options,
                    const std::string& checkpoint);

}  // namespace pretext
