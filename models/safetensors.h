// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor name to {"dtype", "shape", "data_offsets"} plus
// an optional "__metadata__" object of strings, then the tensors' little-endian bytes packed
// back to back. The reader checks every rule of the format and names the one a file breaks.
// Deviations: none from the format; tensors keep the order given rather than the reference
// writer's sort by dtype and name (readers must not depend on the order).
#pragma once

#include <map>
#include <string>

#include "models/state_dict.h"

namespace pretext {

struct SafetensorsContents {
  std::map<std::string, std::string> metadata;  ///< "__metadata__"
  StateDict tensors;                            ///< CPU, contiguous, in header order
};

/// Encodes tensors (any device or layout; saved contiguous from CPU) and string metadata.
/// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Duplicate names throw.
std::string encode_safetensors(const StateDict& tensors,
                               const std::map<std::string, std::string>& metadata = {});

/// Parses a whole file's bytes; `origin` names it in errors. Refuses a bad length prefix, a
/// header that is not a JSON object, an unknown dtype, a shape whose size disagrees with its
/// byte range, offsets out of range, overlapping, or leaving bytes of the buffer uncovered.
SafetensorsContents decode_safetensors(const std::string& bytes, const std::string& origin);

/// Atomically writes encode_safetensors(...) to `path`.
void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {});

SafetensorsContents read_safetensors(const std::string& path);

}  // namespace pretext
