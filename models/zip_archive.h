// The subset of ZIP (PKWARE APPNOTE 6.3) that PyTorch's torch.save archives use: writing stored
// (uncompressed) entries with their data 64-byte aligned as PyTorch's own writer does
// (caffe2/serialize/inline_container.cc), and reading stored or deflated entries through the
// central directory, with ZIP64 end records, checking each entry's CRC-32.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pretext {

/// (name, bytes) entries in archive order.
using ZipEntries = std::vector<std::pair<std::string, std::string>>;

/// A ZIP archive of stored entries, each entry's data starting at a multiple of 64 bytes (an
/// "FB" extra field pads the local header, as PyTorch does). Entries must stay below 4 GiB.
std::string encode_zip(const ZipEntries& entries);

/// Every entry of a ZIP archive; `origin` names the file in errors (not a ZIP file, truncated,
/// unsupported compression, CRC mismatch, duplicate names, encrypted entries).
ZipEntries decode_zip(const std::string& bytes, const std::string& origin);

/// True when bytes start with a ZIP local-file-header signature.
bool looks_like_zip(const std::string& bytes);

}  // namespace pretext
