// audit_dataset: every index read once by a few threads; results land in per-index slots so
// the report is in index order whatever the scheduling.
#include "data/audit.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace pretext {

AuditReport audit_dataset(const Dataset& dataset, int64_t threads) {
  TORCH_CHECK_VALUE(threads >= 1, "audit_dataset: threads must be >= 1, got ", threads);
  const int64_t size = dataset.size();
  std::vector<std::optional<UnreadableRecord>> slots(static_cast<size_t>(size));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t i = next++; i < size && !failed.load(); i = next++) {
      try {
        dataset.get(i);
      } catch (const UnreadableSample& e) {
        slots[static_cast<size_t>(i)] = UnreadableRecord{i, e.source(), e.reason()};
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
  AuditReport report;
  report.listed = size;
  for (auto& slot : slots) {
    if (slot) report.unreadable.push_back(std::move(*slot));
  }
  report.decoded = size - static_cast<int64_t>(report.unreadable.size());
  return report;
}

}  // namespace pretext
