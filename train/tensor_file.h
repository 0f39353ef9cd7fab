// pretext's checkpoint container: named tensors plus string metadata, not a pickle, so loading
// one never runs code. Layout: magic "PRETEXT\x01", u64 header length, header (text, one line
// per entry), raw little-endian tensor bytes, then a CRC-32 of everything before it and the
// magic "PRETEND\x01". Truncation and bit flips fail the length or CRC check with a clear error.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace pretext {

struct TensorFile {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;  ///< CPU, contiguous when read

  bool has(const std::string& name) const;
  /// Throws naming the missing tensor.
  const torch::Tensor& get(const std::string& name) const;
  /// Throws naming the missing key.
  const std::string& meta(const std::string& key) const;
};

/// Writes to `path`.tmp, fsyncs, renames over `path` and fsyncs the folder, so a crash leaves
/// either the old or the new file, never a torn one. Tensors may live on any device.
void write_tensor_file(const std::string& path, const TensorFile& file);

/// Reads and verifies a file from write_tensor_file; throws c10::Error naming the path and
/// what is wrong (missing, truncated at byte N, checksum mismatch, bad header).
TensorFile read_tensor_file(const std::string& path);

}  // namespace pretext
