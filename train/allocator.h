// Process-wide malloc tuning for training on the CPU. glibc returns large freed blocks to the
// system, so every step's activations land on fresh pages and pay a page fault per 4 KiB
// (about 100k faults per SimCLR step on the quick-start model). Keeping them mapped lets the
// next step reuse them.
#pragma once

namespace pretext {

/// Call once at start-up, before the first tensor is allocated.
void keep_freed_memory_for_reuse();

}  // namespace pretext
