// IDX reader (gzip or plain) and IdxDataset.
// Reference: the IDX description on yann.lecun.com/exdb/mnist; torchvision.datasets.MNIST
// (read_sn3_pascalvincent_tensor) for the same parsing.
// Deviations: only the unsigned-byte type (0x08) is supported; trailing bytes are refused.
#include "data/idx.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include <zlib.h>

namespace pretext {

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), "read_idx: cannot open '", path,
              "' (does it exist and is it readable? MNIST-style datasets need "
              "<prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz])");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  TORCH_CHECK(!in.bad(), "read_idx: I/O error while reading '", path, "'");
  return bytes;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  TORCH_CHECK(inflateInit2(&stream, 15 + 16) == Z_OK, "read_idx: zlib init failed for '", path,
              "'");
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::vector<uint8_t> out(compressed.size() * 2 + 1024);
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (stream.total_out == out.size()) {
      out.resize(out.size() * 2);
    }
    stream.next_out = out.data() + stream.total_out;
    stream.avail_out = static_cast<uInt>(out.size() - stream.total_out);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END &&
        !(status == Z_BUF_ERROR && stream.avail_out == 0)) {
      const std::string reason = stream.msg != nullptr ? stream.msg : "stream ends early";
      const uint64_t produced = stream.total_out;
      inflateEnd(&stream);
      TORCH_CHECK(false, "read_idx: gzip data of '", path, "' is corrupt or truncated (", reason,
                  ") after ", produced, " decompressed bytes; re-download the file");
    }
  }
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::ostringstream out;
  out << c10::IntArrayRef(dims);
  return out.str();
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  const bool gzipped = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  if (gzipped) {
    bytes = gunzip(bytes, path);
  }
  const char* kind = gzipped ? " (after gunzip)" : "";
  const int64_t size = static_cast<int64_t>(bytes.size());
  TORCH_CHECK(size >= 4, "read_idx: '", path, "' is truncated: data ran out at byte offset ", size,
              kind, " inside the 4-byte magic");
  TORCH_CHECK(bytes[0] == 0 && bytes[1] == 0, "read_idx: '", path,
              "' is not an IDX file: magic starts with bytes ", int{bytes[0]}, " ", int{bytes[1]},
              kind, ", expected 0 0");
  TORCH_CHECK(bytes[2] == 0x08, "read_idx: '", path, "' has IDX element type ", int{bytes[2]},
              ", only 8 (unsigned byte) is supported");
  const int64_t ndims = bytes[3];
  TORCH_CHECK(ndims >= 1, "read_idx: '", path, "' declares 0 dimensions");
  const int64_t header = 4 + 4 * ndims;
  TORCH_CHECK(size >= header, "read_idx: '", path, "' is truncated: data ran out at byte offset ",
              size, kind, " inside the header of ", header, " bytes");
  IdxArray array;
  int64_t count = 1;
  for (int64_t d = 0; d < ndims; ++d) {
    const int64_t dim = big_endian_u32(bytes.data() + 4 + 4 * d);
    TORCH_CHECK(dim > 0, "read_idx: '", path, "' has dimension ", d, " of size 0");
    array.dims.push_back(dim);
    count *= dim;
  }
  TORCH_CHECK(size >= header + count, "read_idx: '", path,
              "' is truncated: data ran out at byte offset ", size, kind, ", dims ",
              dims_string(array.dims), " need ", header + count, " bytes");
  TORCH_CHECK(size == header + count, "read_idx: '", path, "' has ", size - header - count,
              " trailing bytes after the ", header + count, " bytes that dims ",
              dims_string(array.dims), " describe", kind);
  // Hand the decoded buffer to the tensor instead of copying ~47 MB.
  auto* owner = new std::vector<uint8_t>(std::move(bytes));
  array.data = torch::from_blob(
      owner->data() + header, array.dims, [owner](void*) { delete owner; }, torch::kUInt8);
  return array;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path,
                       int64_t num_classes, int64_t limit, std::string name)
    : num_classes_(num_classes), images_path_(images_path), name_(std::move(name)) {
  TORCH_CHECK_VALUE(num_classes > 0, "IdxDataset: num_classes must be positive, got ", num_classes);
  TORCH_CHECK_VALUE(limit >= 0, "IdxDataset: limit must be >= 0, got ", limit);
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  TORCH_CHECK(images.dims.size() == 3, "IdxDataset: '", images_path,
              "' should hold [N, rows, cols] images, got dims ", dims_string(images.dims));
  TORCH_CHECK(labels.dims.size() == 1, "IdxDataset: '", labels_path,
              "' should hold [N] labels, got dims ", dims_string(labels.dims));
  TORCH_CHECK(images.dims[0] == labels.dims[0], "IdxDataset: ", images.dims[0], " images in '",
              images_path, "' but ", labels.dims[0], " labels in '", labels_path, "'");
  images_ = images.data;
  labels_ = labels.data;
  if (limit > 0 && limit < images_.size(0)) {
    images_ = images_.narrow(0, 0, limit);
    labels_ = labels_.narrow(0, 0, limit);
  }
  const int64_t max_label = labels_.max().item<int64_t>();
  TORCH_CHECK(max_label < num_classes, "IdxDataset: '", labels_path, "' holds label ", max_label,
              ", outside [0, ", num_classes, ")");
}

Sample IdxDataset::get(int64_t index) const {
  TORCH_CHECK(0 <= index && index < size(), "IdxDataset: index ", index, " outside [0, ", size(),
              ") of ", describe());
  const int rows = static_cast<int>(images_.size(1));
  const int cols = static_cast<int>(images_.size(2));
  const uint8_t* pixels = images_.data_ptr<uint8_t>() + index * rows * cols;
  Sample sample;
  // clone(): the Sample owns its pixels, independent of the dataset's buffer.
  sample.image = cv::Mat(rows, cols, CV_8UC1, const_cast<uint8_t*>(pixels)).clone();
  sample.label = labels_.data_ptr<uint8_t>()[index];
  return sample;
}

std::string IdxDataset::describe() const {
  return name_ + " (" + std::to_string(size()) + " images from " + images_path_ + ")";
}

}  // namespace pretext
