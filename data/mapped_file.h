// A read-only memory map of a whole file, so multi-gigabyte binary datasets (STL-10's unlabeled
// split is 2.7 GB) are paged in on demand and shared by every loader thread without copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pretext {

class MappedFile {
 public:
  /// Maps `path`; throws naming the path when it cannot be opened or mapped. A zero-byte file
  /// maps to size() == 0 and data() == nullptr.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace pretext
