// UnreadableReport: append-only TSV with a header line, flushed per update so a crash later in
// the run keeps what was found.
#include "data/unreadable_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace pretext {

size_t UnreadableReport::update(const Loader& loader) {
  const std::vector<UnreadableRecord> records = loader.unreadable_samples();
  if (records.size() <= written_) return 0;
  const bool fresh = written_ == 0;
  std::ofstream out(path_, fresh ? std::ios::trunc : std::ios::app);
  TORCH_CHECK(out.good(), "cannot write the unreadable-sample report '", path_,
              "' (check that the run directory is writable)");
  if (fresh) out << "index\tsource\treason\n";
  for (size_t k = written_; k < records.size(); ++k) {
    out << records[k].index << '\t' << records[k].source << '\t' << records[k].reason << '\n';
    std::fprintf(stderr,
                 "pretext: skipped unreadable sample %s: %s (data.on_error=skip; listed in %s)\n",
                 records[k].source.c_str(), records[k].reason.c_str(), path_.c_str());
  }
  out.flush();
  TORCH_CHECK(out.good(), "cannot write the unreadable-sample report '", path_, "'");
  const size_t added = records.size() - written_;
  written_ = records.size();
  return added;
}

std::string unreadable_report_path(const std::string& run_dir, int64_t rank) {
  const std::string name = rank == 0 ? "unreadable_samples.tsv"
                                     : "unreadable_samples.rank" + std::to_string(rank) + ".tsv";
  return (std::filesystem::path(run_dir) / name).string();
}

}  // namespace pretext
