// Temporary-file-and-rename text writes.
#include "train/text_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <c10/util/Exception.h>

namespace pretext {

void write_text_file_atomic(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    TORCH_CHECK(out.good(), "cannot write '", temporary, "': ", std::strerror(errno),
                " (does the folder exist and is it writable?)");
    out << text;
    out.flush();
    TORCH_CHECK(out.good(), "writing '", temporary, "' failed: ", std::strerror(errno),
                " (is the disk full?)");
  }
  TORCH_CHECK(std::rename(temporary.c_str(), path.c_str()) == 0, "cannot replace '", path,
              "': ", std::strerror(errno));
}

}  // namespace pretext
