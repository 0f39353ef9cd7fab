// Whole-file byte I/O for the weight formats: read with errors that name the path, write
// through a temporary file and a rename so a failed export never leaves a torn file behind.
#pragma once

#include <string>

namespace pretext {

/// The bytes of `path`; throws c10::Error naming the path when it is missing or unreadable.
std::string read_binary_file(const std::string& path);

/// Writes `bytes` to `path`.tmp, flushes, and renames it over `path`; an existing `path` stays
/// intact when anything fails. Throws c10::Error naming the path.
void write_binary_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace pretext
