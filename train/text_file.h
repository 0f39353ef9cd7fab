// Whole-file text writes that never leave a torn file: metrics rewrites, reports, configs.
#pragma once

#include <string>

namespace pretext {

/// Writes `text` to `path`.tmp, flushes, and renames it over `path`; errors name the path.
void write_text_file_atomic(const std::string& path, const std::string& text);

}  // namespace pretext
