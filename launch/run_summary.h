// Reads a finished run directory (config.cfg, metrics.jsonl, knn.json, linear.json) into what
// an objective comparison needs.
#pragma once

#include <string>

#include "evaluation/comparison_report.h"

namespace pretext {

/// The run in `dir`. config.cfg and metrics.jsonl must exist and parse (errors name the file
/// and line); knn.json and linear.json are optional and add the accuracies they hold for the
/// pretrained encoder (k-NN, few-shot k-NN, linear SGD and L-BFGS).
RunSummary read_run_summary(const std::string& dir);

}  // namespace pretext
