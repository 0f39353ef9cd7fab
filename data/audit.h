// Reads every sample of a dataset once and lists those that cannot be read, with why: what
// `pretext audit` prints, and what a run with data.on_error=skip would replace.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"

namespace pretext {

struct AuditReport {
  int64_t listed = 0;   ///< dataset size
  int64_t decoded = 0;  ///< samples read successfully; decoded + unreadable.size() == listed
  std::vector<UnreadableRecord> unreadable;  ///< in index order
};

/// Calls get() on every index from `threads` threads (>= 1). Only UnreadableSample counts as
/// unreadable; any other error is rethrown, naming the sample.
AuditReport audit_dataset(const Dataset& dataset, int64_t threads);

}  // namespace pretext
