// glibc malloc settings for tensor-heavy processes.
#include "train/allocator.h"

#include <malloc.h>

namespace pretext {

void keep_freed_memory_for_reuse() {
  // Serve blocks up to 64 MiB from the heap instead of fresh mmaps, and never trim the heap:
  // activation buffers freed at the end of a step are reused by the next one.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
}

}  // namespace pretext
