// Reader and writer for the tensor file layout described in tensor_file.h. Header entries are
//   meta <key bytes> <key> <value bytes> <value>\n
//   tensor <name bytes> <name> <dtype> <ndim> <dims...> <data offset> <data bytes>\n
// with lengths in decimal, so names and values may hold any bytes (spaces, newlines, UTF-8).
// Tensor data follows the header in header order, each start 64-byte aligned within the data
// section, padding zero. Compared with safetensors: a CRC-32 trailer and a text header.

#include "train/tensor_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>

namespace pretext {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tensor files are little-endian");

constexpr char kMagic[8] = {'P', 'R', 'E', 'T', 'E', 'X', 'T', '\x01'};
constexpr char kEndMagic[8] = {'P', 'R', 'E', 'T', 'E', 'N', 'D', '\x01'};
constexpr uint64_t kPrefixBytes = 16;  // magic + u64 header length
constexpr uint64_t kSuffixBytes = 12;  // u32 CRC-32 + end magic
constexpr uint64_t kAlign = 64;
constexpr uint64_t kChunk = uint64_t{1} << 24;

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};
const DtypeName kDtypes[] = {{torch::kFloat32, "float32"}, {torch::kFloat64, "float64"},
                             {torch::kFloat16, "float16"}, {torch::kBFloat16, "bfloat16"},
                             {torch::kInt64, "int64"},     {torch::kInt32, "int32"},
                             {torch::kInt16, "int16"},     {torch::kUInt8, "uint8"},
                             {torch::kInt8, "int8"},       {torch::kBool, "bool"}};

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One tensor entry of the header.
struct Entry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t offset;
  uint64_t nbytes;
};

uint32_t crc_update(uint32_t crc, const void* data, uint64_t n) {
  const auto* bytes = static_cast<const Bytef*>(data);
  while (n > 0) {
    const auto len = static_cast<uInt>(std::min<uint64_t>(n, uint64_t{1} << 30));
    crc = static_cast<uint32_t>(crc32(crc, bytes, len));
    bytes += len;
    n -= len;
  }
  return crc;
}

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

std::string names_preview(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 10);
  for (size_t i = 0; i < shown; ++i) {
    out += (i == 0 ? "'" : ", '") + names[i] + "'";
  }
  if (names.size() > shown) {
    out += ", ... (" + std::to_string(names.size()) + " in all)";
  }
  return names.empty() ? "none" : out;
}

const char* dtype_name(torch::ScalarType type) {
  for (const DtypeName& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  TORCH_CHECK_VALUE(
      false, "write_tensor_file: unsupported dtype ", type,
      "; supported: float32 float64 float16 bfloat16 int64 int32 int16 uint8 int8 bool");
}

/// Cursor over the header text; every malformed field throws ParseError.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, uint64_t limit) : text_(text), limit_(limit) {}
  bool done() const { return pos_ >= text_.size(); }
  std::string word() {
    const size_t end = std::min(text_.find_first_of(" \n", pos_), text_.size());
    std::string out = text_.substr(pos_, end - pos_);
    pos_ = end;
    return out;
  }
  /// A decimal number no larger than the file size (so sums of them cannot overflow).
  uint64_t number(const char* what) {
    expect(' ');
    const std::string w = word();
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), value);
    if (w.empty() || ec != std::errc() || end != w.data() + w.size() || value > limit_) {
      throw ParseError(std::string("bad ") + what + " '" + w + "' at header byte " +
                       std::to_string(pos_));
    }
    return value;
  }
  std::string bytes(uint64_t n) {
    expect(' ');
    if (n > text_.size() - pos_) throw ParseError("a string runs past the end of the header");
    std::string out = text_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void expect(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) {
      throw ParseError("expected " + std::string(c == '\n' ? "end of line" : "a space") +
                       " at header byte " + std::to_string(pos_));
    }
    ++pos_;
  }

 private:
  const std::string& text_;
  uint64_t limit_;
  size_t pos_ = 0;
};

/// Parses the header into metadata and entries; returns the data section length.
uint64_t parse_header(const std::string& text, uint64_t file_size,
                      std::map<std::string, std::string>& metadata, std::vector<Entry>& entries) {
  HeaderParser in(text, file_size);
  std::set<std::string> names;
  uint64_t data_end = 0;
  while (!in.done()) {
    const std::string kind = in.word();
    if (kind == "meta") {
      std::string key = in.bytes(in.number("key length"));
      std::string value = in.bytes(in.number("value length"));
      if (!metadata.emplace(std::move(key), std::move(value)).second) {
        throw ParseError("duplicate metadata key");
      }
    } else if (kind == "tensor") {
      Entry e;
      e.name = in.bytes(in.number("name length"));
      in.expect(' ');
      const std::string dtype = in.word();
      const auto* d = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                   [&](const DtypeName& x) { return dtype == x.name; });
      if (d == std::end(kDtypes)) throw ParseError("unknown dtype '" + dtype + "'");
      e.dtype = d->type;
      const uint64_t ndim = in.number("ndim");
      uint64_t numel = 1;
      for (uint64_t i = 0; i < ndim; ++i) {
        const uint64_t dim = in.number("dimension");
        // Saturate at file_size + 1: such a tensor cannot fit, and the product cannot overflow.
        numel =
            (dim == 0 || numel == 0) ? 0 : (numel > file_size / dim ? file_size + 1 : numel * dim);
        e.shape.push_back(static_cast<int64_t>(dim));
      }
      e.offset = in.number("data offset");
      e.nbytes = in.number("data length");
      if (numel * c10::elementSize(e.dtype) != e.nbytes) {
        throw ParseError("tensor '" + e.name + "' has " + std::to_string(e.nbytes) +
                         " data bytes, which does not fit its dtype and shape");
      }
      if (e.offset < data_end)
        throw ParseError("tensor '" + e.name + "' overlaps the previous one");
      if (!names.insert(e.name).second) throw ParseError("duplicate tensor '" + e.name + "'");
      data_end = e.offset + e.nbytes;
      entries.push_back(std::move(e));
    } else {
      throw ParseError("unknown entry '" + kind + "'");
    }
    in.expect('\n');
  }
  return data_end;
}

/// Writes bytes and keeps the running CRC; errors name the file being written.
struct Writer {
  FILE* f;
  const std::string& path;
  uint32_t crc = 0;
  void put(const void* data, uint64_t n, bool checksummed = true) {
    TORCH_CHECK(n == 0 || std::fwrite(data, 1, n, f) == n, "write_tensor_file: cannot write '",
                path, "': ", std::strerror(errno), " (is the disk full?)");
    if (checksummed) crc = crc_update(crc, data, n);
  }
};

void write_file_contents(FILE* f, const std::string& tmp, const TensorFile& file) {
  std::string header;
  std::vector<torch::Tensor> cpu;
  std::vector<uint64_t> offsets;
  std::set<std::string> names;
  for (const auto& [key, value] : file.metadata) {
    header += "meta " + std::to_string(key.size()) + " " + key + " " +
              std::to_string(value.size()) + " " + value + "\n";
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    TORCH_CHECK_VALUE(tensor.defined(), "write_tensor_file: tensor '", name, "' is undefined");
    TORCH_CHECK_VALUE(names.insert(name).second, "write_tensor_file: duplicate tensor '", name,
                      "'");
    const char* dtype = dtype_name(tensor.scalar_type());
    cpu.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const uint64_t nbytes = cpu.back().numel() * cpu.back().element_size();
    offset = align_up(offset);
    offsets.push_back(offset);
    header += "tensor " + std::to_string(name.size()) + " " + name + " " + dtype + " " +
              std::to_string(tensor.dim());
    for (const int64_t dim : tensor.sizes()) header += " " + std::to_string(dim);
    header += " " + std::to_string(offset) + " " + std::to_string(nbytes) + "\n";
    offset += nbytes;
  }
  Writer out{f, tmp};
  const uint64_t header_bytes = header.size();
  out.put(kMagic, sizeof(kMagic));
  out.put(&header_bytes, sizeof(header_bytes));
  out.put(header.data(), header.size());
  uint64_t pos = 0;
  const char zeros[kAlign] = {};
  for (size_t i = 0; i < cpu.size(); ++i) {
    out.put(zeros, offsets[i] - pos);
    const uint64_t nbytes = cpu[i].numel() * cpu[i].element_size();
    out.put(cpu[i].data_ptr(), nbytes);
    pos = offsets[i] + nbytes;
  }
  const uint32_t crc = out.crc;
  out.put(&crc, sizeof(crc), false);
  out.put(kEndMagic, sizeof(kEndMagic), false);
  TORCH_CHECK(std::fflush(f) == 0 && ::fsync(fileno(f)) == 0, "write_tensor_file: cannot flush '",
              tmp, "': ", std::strerror(errno));
}

void fsync_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  TORCH_CHECK(fd >= 0, "write_tensor_file: cannot open folder '", dir,
              "' to sync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot sync a folder (EINVAL); the rename is as durable as they allow.
  TORCH_CHECK(rc == 0 || err == EINVAL, "write_tensor_file: cannot sync folder '", dir,
              "': ", std::strerror(err));
}

/// Reads bytes, keeping the running CRC; a short read means the file shrank under us.
struct Reader {
  FILE* f;
  const std::string& path;
  uint32_t crc = 0;
  uint64_t pos = 0;
  void get(void* data, uint64_t n, bool checksummed = true) {
    auto* bytes = static_cast<char*>(data);
    for (uint64_t done = 0; done < n;) {
      const uint64_t want = std::min(n - done, kChunk);
      const size_t got = std::fread(bytes + done, 1, want, f);
      TORCH_CHECK(got == want, "read_tensor_file: '", path, "' is truncated at byte ",
                  pos + done + got, " (expected ", pos + n, ")");
      done += got;
    }
    if (checksummed) crc = crc_update(crc, data, n);
    pos += n;
  }
};

/// For a file that fails a structural check: a complete file (end magic present) whose CRC does
/// not match was corrupted, which is the more useful thing to report.
std::string diagnose(FILE* f, const std::string& path, uint64_t size, const std::string& problem) {
  const std::string corrupt =
      "read_tensor_file: '" + path + "': checksum mismatch, the file is corrupt";
  if (size < kPrefixBytes + kSuffixBytes || std::fseek(f, 0, SEEK_SET) != 0) {
    return problem;
  }
  Reader in{f, path};
  std::vector<char> chunk(kChunk);
  for (uint64_t left = size - kSuffixBytes; left > 0;) {
    const uint64_t n = std::min(left, kChunk);
    in.get(chunk.data(), n);
    left -= n;
  }
  uint32_t stored = 0;
  char end[8];
  in.get(&stored, sizeof(stored), false);
  in.get(end, sizeof(end), false);
  return std::memcmp(end, kEndMagic, sizeof(end)) == 0 && stored != in.crc ? corrupt : problem;
}

}  // namespace

void write_tensor_file(const std::string& path, const TensorFile& file) {
  const std::string tmp = path + ".tmp";
  FilePtr f(std::fopen(tmp.c_str(), "wb"));
  TORCH_CHECK(f != nullptr, "write_tensor_file: cannot create '", tmp, "': ", std::strerror(errno),
              " (does the folder exist and is it writable?)");
  try {
    write_file_contents(f.get(), tmp, file);
    TORCH_CHECK(std::fclose(f.release()) == 0, "write_tensor_file: cannot close '", tmp,
                "': ", std::strerror(errno));
    TORCH_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "write_tensor_file: cannot rename '",
                tmp, "' to '", path, "': ", std::strerror(errno));
  } catch (...) {
    f.reset();
    std::remove(tmp.c_str());
    throw;
  }
  fsync_directory(path);
}

TensorFile read_tensor_file(const std::string& path) {
  const std::string where = "read_tensor_file: '" + path + "'";
  FilePtr f(std::fopen(path.c_str(), "rb"));
  TORCH_CHECK(f != nullptr, "read_tensor_file: cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  TORCH_CHECK(::fstat(fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode), where,
              " is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  const auto fail = [&](const std::string& problem) {
    TORCH_CHECK(false, diagnose(f.get(), path, size, where + problem));
  };
  Reader in{f.get(), path};
  char magic[sizeof(kMagic)] = {};
  if (size >= sizeof(magic)) in.get(magic, sizeof(magic));
  TORCH_CHECK(size < sizeof(magic) || std::memcmp(magic, kMagic, sizeof(magic)) == 0, where,
              " is not a pretext checkpoint (bad magic)");
  const uint64_t min_size = kPrefixBytes + kSuffixBytes;
  TORCH_CHECK(size >= min_size, where, " is truncated at byte ", size, " (expected at least ",
              min_size, ")");
  uint64_t header_bytes = 0;
  in.get(&header_bytes, sizeof(header_bytes));
  if (header_bytes > size - min_size) {
    fail(" is truncated at byte " + std::to_string(size) + " (expected at least " +
         std::to_string(header_bytes + min_size) + ")");
  }
  std::string header(header_bytes, '\0');
  in.get(header.data(), header_bytes);
  TensorFile out;
  std::vector<Entry> entries;
  uint64_t data_bytes = 0;
  try {
    data_bytes = parse_header(header, size, out.metadata, entries);
  } catch (const ParseError& e) {
    fail(std::string(" has a bad header: ") + e.what());
  }
  const uint64_t expected = header_bytes + data_bytes + min_size;
  if (size != expected) {
    fail((size < expected ? " is truncated at byte " : " has unexpected size ") +
         std::to_string(size) + " (expected " + std::to_string(expected) + ")");
  }
  uint64_t pos = 0;
  char padding[kAlign];
  for (const Entry& e : entries) {
    for (; pos < e.offset; pos += std::min(e.offset - pos, kAlign)) {
      in.get(padding, std::min(e.offset - pos, kAlign));
    }
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    in.get(t.data_ptr(), e.nbytes);
    pos += e.nbytes;
    out.tensors.emplace_back(e.name, std::move(t));
  }
  const uint32_t computed = in.crc;
  uint32_t stored = 0;
  char end[sizeof(kEndMagic)];
  in.get(&stored, sizeof(stored), false);
  in.get(end, sizeof(end), false);
  TORCH_CHECK(stored == computed, where, ": checksum mismatch, the file is corrupt");
  TORCH_CHECK(std::memcmp(end, kEndMagic, sizeof(end)) == 0, where,
              ": bad end marker, the file is corrupt");
  return out;
}

bool TensorFile::has(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [&](const auto& named) { return named.first == name; });
}

const torch::Tensor& TensorFile::get(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& named : tensors) {
    if (named.first == name) return named.second;
    names.push_back(named.first);
  }
  TORCH_CHECK(false, "TensorFile: no tensor named '", name, "'; it has ", names_preview(names));
}

const std::string& TensorFile::meta(const std::string& key) const {
  const auto it = metadata.find(key);
  if (it == metadata.end()) {
    std::vector<std::string> keys;
    for (const auto& entry : metadata) keys.push_back(entry.first);
    TORCH_CHECK(false, "TensorFile: no metadata key '", key, "'; it has ", names_preview(keys));
  }
  return it->second;
}

}  // namespace pretext
