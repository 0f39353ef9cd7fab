// The run directory's record of unreadable samples under data.on_error=skip: one line per bad
// file (index, source, reason), appended as the loader meets them, and a note on stderr, so a
// skipped file is never silent.
#pragma once

#include <cstddef>
#include <string>

#include "data/loader.h"

namespace pretext {

class UnreadableReport {
 public:
  /// `path` is created only when the first unreadable sample shows up.
  explicit UnreadableReport(std::string path) : path_(std::move(path)) {}

  /// Appends the loader's records not written yet; returns how many were added. Throws naming
  /// the path when the file cannot be written.
  size_t update(const Loader& loader);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t written_ = 0;
};

/// <run_dir>/unreadable_samples.tsv for rank 0, unreadable_samples.rank<R>.tsv for others (each
/// rank meets its own shard's files).
std::string unreadable_report_path(const std::string& run_dir, int64_t rank);

}  // namespace pretext
