// ZIP writer (stored, 64-byte aligned data) and central-directory reader.
#include "models/zip_archive.h"

#include <set>

#include <c10/util/Exception.h>
#include <zlib.h>

namespace pretext {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr size_t kAlignment = 64;  // PyTorch aligns record data for mmap

void put16(std::string& out, uint32_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& out, uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

uint32_t crc_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < data.size()) {  // zlib takes 32-bit lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), chunk);
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

/// Bounds-checked little-endian reads from the archive bytes.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}
  uint64_t get(uint64_t offset, int width, const char* what) const {
    TORCH_CHECK(offset <= bytes_.size() && static_cast<uint64_t>(width) <= bytes_.size() - offset,
                origin_, ": ZIP ", what, " at byte ", offset, " runs past the end of the ",
                bytes_.size(), "-byte file (truncated?)");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(bytes_[offset + i]);
    }
    return v;
  }
  std::string slice(uint64_t offset, uint64_t size, const char* what) const {
    TORCH_CHECK(offset <= bytes_.size() && size <= bytes_.size() - offset, origin_, ": ZIP ", what,
                " [", offset, ", ", offset + size, ") runs past the end of the ", bytes_.size(),
                "-byte file (truncated?)");
    return bytes_.substr(offset, size);
  }

 private:
  const std::string& bytes_;
  const std::string& origin_;
};

std::string inflate_raw(const std::string& compressed, uint64_t size, const std::string& where) {
  std::string out(size, '\0');
  z_stream stream{};
  TORCH_CHECK(inflateInit2(&stream, -MAX_WBITS) == Z_OK, where, ": zlib init failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_FINISH);
  const uint64_t produced = stream.total_out;
  inflateEnd(&stream);
  TORCH_CHECK(status == Z_STREAM_END && produced == size, where,
              ": deflated data is corrupt (inflate status ", status, ", ", produced, " of ", size,
              " bytes)");
  return out;
}

}  // namespace

bool looks_like_zip(const std::string& bytes) {
  return bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0;
}

std::string encode_zip(const ZipEntries& entries) {
  std::string out;
  std::string directory;
  for (const auto& [name, data] : entries) {
    TORCH_CHECK(data.size() < 0xFFFFFFFFull && out.size() < 0xFFFFFFFFull, "ZIP writer: entry '",
                name, "' needs ZIP64 (over 4 GiB), which is not supported");
    const uint32_t crc = crc_of(data);
    const uint32_t offset = static_cast<uint32_t>(out.size());
    // Pad with an "FB" extra field so the data starts on a 64-byte boundary.
    const size_t header_end = out.size() + 30 + name.size();
    size_t padding = (kAlignment - (header_end + 4) % kAlignment) % kAlignment;
    const uint32_t extra_size = static_cast<uint32_t>(4 + padding);
    put32(out, kLocalHeader);
    put16(out, 20);    // version needed: 2.0
    put16(out, 0);     // flags
    put16(out, 0);     // stored
    put16(out, 0);     // time
    put16(out, 0x21);  // date: 1980-01-01
    put32(out, crc);
    put32(out, static_cast<uint32_t>(data.size()));
    put32(out, static_cast<uint32_t>(data.size()));
    put16(out, static_cast<uint32_t>(name.size()));
    put16(out, extra_size);
    out += name;
    put16(out, 0x4246);  // "FB"
    put16(out, static_cast<uint32_t>(padding));
    out.append(padding, 'Z');
    out += data;

    put32(directory, kCentralHeader);
    put16(directory, 20);  // made by 2.0
    put16(directory, 20);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0x21);
    put32(directory, crc);
    put32(directory, static_cast<uint32_t>(data.size()));
    put32(directory, static_cast<uint32_t>(data.size()));
    put16(directory, static_cast<uint32_t>(name.size()));
    put16(directory, 0);  // extra
    put16(directory, 0);  // comment
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, offset);
    directory += name;
  }
  TORCH_CHECK(entries.size() < 0xFFFF && out.size() < 0xFFFFFFFFull,
              "ZIP writer: archive needs ZIP64 (too many entries or over 4 GiB)");
  const uint32_t directory_offset = static_cast<uint32_t>(out.size());
  out += directory;
  put32(out, kEndOfDirectory);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(directory.size()));
  put32(out, directory_offset);
  put16(out, 0);
  return out;
}

ZipEntries decode_zip(const std::string& bytes, const std::string& origin) {
  const Reader r(bytes, origin);
  TORCH_CHECK(bytes.size() >= 22, origin, ": too short for a ZIP archive (", bytes.size(),
              " bytes)");
  // The end record sits in the last 22 + 65535 (comment) bytes.
  int64_t end = -1;
  const int64_t lowest = std::max<int64_t>(0, static_cast<int64_t>(bytes.size()) - 22 - 65535);
  for (int64_t at = static_cast<int64_t>(bytes.size()) - 22; at >= lowest; --at) {
    if (r.get(at, 4, "end record") == kEndOfDirectory) {
      end = at;
      break;
    }
  }
  TORCH_CHECK(end >= 0, origin, ": no ZIP end-of-central-directory record (truncated?)");
  uint64_t count = r.get(end + 10, 2, "entry count");
  uint64_t directory_offset = r.get(end + 16, 4, "directory offset");
  if (count == 0xFFFF || directory_offset == 0xFFFFFFFF) {
    TORCH_CHECK(end >= 20 && r.get(end - 20, 4, "ZIP64 locator") == kZip64Locator, origin,
                ": ZIP end record points to a missing ZIP64 record");
    const uint64_t record = r.get(end - 20 + 8, 8, "ZIP64 record offset");
    TORCH_CHECK(r.get(record, 4, "ZIP64 end record") == kZip64EndOfDirectory, origin,
                ": bad ZIP64 end-of-central-directory record at byte ", record);
    count = r.get(record + 32, 8, "ZIP64 entry count");
    directory_offset = r.get(record + 48, 8, "ZIP64 directory offset");
  }
  ZipEntries entries;
  std::set<std::string> names;
  uint64_t at = directory_offset;
  for (uint64_t i = 0; i < count; ++i) {
    TORCH_CHECK(r.get(at, 4, "central header") == kCentralHeader, origin,
                ": bad ZIP central-directory header at byte ", at);
    const uint64_t flags = r.get(at + 8, 2, "flags");
    const uint64_t method = r.get(at + 10, 2, "method");
    const uint32_t crc = static_cast<uint32_t>(r.get(at + 16, 4, "crc"));
    uint64_t compressed = r.get(at + 20, 4, "compressed size");
    uint64_t size = r.get(at + 24, 4, "size");
    const uint64_t name_size = r.get(at + 28, 2, "name length");
    const uint64_t extra_size = r.get(at + 30, 2, "extra length");
    const uint64_t comment_size = r.get(at + 32, 2, "comment length");
    uint64_t local = r.get(at + 42, 4, "local header offset");
    const std::string name = r.slice(at + 46, name_size, "entry name");
    // ZIP64 sizes and offset follow in the 0x0001 extra field, in this order, when saturated.
    uint64_t extra = at + 46 + name_size;
    const uint64_t extra_end = extra + extra_size;
    while (extra + 4 <= extra_end) {
      const uint64_t id = r.get(extra, 2, "extra id");
      const uint64_t length = r.get(extra + 2, 2, "extra length");
      if (id == 0x0001) {
        uint64_t field = extra + 4;
        if (size == 0xFFFFFFFF) {
          size = r.get(field, 8, "ZIP64 size");
          field += 8;
        }
        if (compressed == 0xFFFFFFFF) {
          compressed = r.get(field, 8, "ZIP64 compressed size");
          field += 8;
        }
        if (local == 0xFFFFFFFF) local = r.get(field, 8, "ZIP64 offset");
      }
      extra += 4 + length;
    }
    const std::string where = origin + ": ZIP entry '" + name + "'";
    TORCH_CHECK(!(flags & 1), where, " is encrypted");
    TORCH_CHECK(method == 0 || method == 8, where, " uses compression method ", method,
                "; only stored (0) and deflate (8) are supported");
    TORCH_CHECK(names.insert(name).second, where, " appears twice");
    TORCH_CHECK(r.get(local, 4, "local header") == kLocalHeader, where,
                ": bad local header at byte ", local);
    const uint64_t data_at =
        local + 30 + r.get(local + 26, 2, "name length") + r.get(local + 28, 2, "extra length");
    std::string data = r.slice(data_at, compressed, "entry data");
    if (method == 8) data = inflate_raw(data, size, where);
    TORCH_CHECK(data.size() == size, where, ": stored size ", compressed, " != size ", size);
    TORCH_CHECK(crc_of(data) == crc, where, ": CRC-32 mismatch (corrupt file)");
    entries.emplace_back(name, std::move(data));
    at += 46 + name_size + extra_size + comment_size;
  }
  return entries;
}

}  // namespace pretext
