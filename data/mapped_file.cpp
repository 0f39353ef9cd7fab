// MappedFile: mmap(PROT_READ, MAP_PRIVATE) of the whole file; the descriptor is closed at once
// because the mapping keeps the file alive.
#include "data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <torch/torch.h>

namespace pretext {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  TORCH_CHECK(fd >= 0, "cannot open '", path_, "': ", std::strerror(errno),
              " (check the dataset root and the file's permissions)");
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    const int error = errno;
    ::close(fd);
    TORCH_CHECK(false, "cannot read '", path_,
                "': ", S_ISREG(info.st_mode) ? std::strerror(error) : "not a regular file");
  }
  size_ = static_cast<int64_t>(info.st_size);
  if (size_ > 0) {
    void* mapped = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, fd, 0);
    const int error = errno;
    ::close(fd);
    TORCH_CHECK(mapped != MAP_FAILED, "cannot map '", path_, "' (", size_,
                " bytes) into memory: ", std::strerror(error));
    data_ = static_cast<const uint8_t*>(mapped);
  } else {
    ::close(fd);
  }
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
}

}  // namespace pretext
