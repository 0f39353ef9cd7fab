// Whole-file byte I/O with atomic replacement.
#include "models/binary_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <c10/util/Exception.h>

namespace pretext {

std::string read_binary_file(const std::string& path) {
  TORCH_CHECK(std::filesystem::is_regular_file(path), "'", path,
              "' does not exist or is not a regular file");
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), "'", path, "' cannot be opened: ", std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  TORCH_CHECK(!in.bad(), "reading '", path, "' failed: ", std::strerror(errno));
  return bytes.str();
}

void write_binary_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    TORCH_CHECK(out.good(), "cannot create '", temporary, "': ", std::strerror(errno),
                " (does the folder exist and is it writable?)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      const std::string reason = std::strerror(errno);
      out.close();
      std::remove(temporary.c_str());
      TORCH_CHECK(false, "writing '", temporary, "' failed: ", reason, " (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    TORCH_CHECK(false, "cannot rename '", temporary, "' to '", path, "': ", error.message());
  }
}

}  // namespace pretext
