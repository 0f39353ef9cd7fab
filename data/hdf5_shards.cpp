// HDF5 shard writer and reader.
// Reference: the HDF5 C API (H5F/H5D/H5S; hyperslab reads of one sample); the manifest and
// per-shard CRC-32 follow the sharded layouts of WebDataset and FFCV (index + checksums).
// Deviations: one flat file per shard with three datasets, no chunking or compression: encoded
// images are already compressed, raw small images are read whole.
#include "data/hdf5_shards.h"

#include <hdf5.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/mapped_file.h"

namespace pretext {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMagic = "pretext-hdf5-shards 1";

uint32_t file_crc32(const std::string& path, int64_t* size) {
  const MappedFile file(path);
  *size = file.size();
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int64_t at = 0; at < file.size(); at += (1 << 30)) {
    const auto chunk = static_cast<uInt>(std::min<int64_t>(1 << 30, file.size() - at));
    crc = crc32(crc, file.data() + at, chunk);
  }
  return static_cast<uint32_t>(crc);
}

/// Closes an HDF5 handle when it leaves scope.
struct Handle {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() {
    if (id >= 0) close(id);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

void write_array(hid_t file, const char* name, hid_t file_type, hid_t memory_type,
                 const std::vector<hsize_t>& dims, const void* data, const std::string& path) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle set(H5Dcreate2(file, name, file_type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
  TORCH_CHECK(space.id >= 0 && set.id >= 0 &&
                  H5Dwrite(set.id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
              "pack: cannot write dataset '", name, "' to '", path, "' (disk full?)");
}

struct ShardBuffer {
  std::vector<uint8_t> bytes;       // encoded: concatenated files; raw: N*H*W*C pixels
  std::vector<int64_t> offsets{0};  // encoded only
  std::vector<int64_t> labels;
};

void write_shard(const std::string& path, const ShardBuffer& buffer, bool raw, int64_t height,
                 int64_t width, int64_t channels) {
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  TORCH_CHECK(file.id >= 0, "pack: cannot create '", path, "' (is the folder writable?)");
  const auto n = static_cast<hsize_t>(buffer.labels.size());
  write_array(file.id, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {n}, buffer.labels.data(), path);
  if (raw) {
    write_array(file.id, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8,
                {n, static_cast<hsize_t>(height), static_cast<hsize_t>(width),
                 static_cast<hsize_t>(channels)},
                buffer.bytes.data(), path);
  } else {
    write_array(file.id, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, {n + 1}, buffer.offsets.data(),
                path);
    write_array(file.id, "bytes", H5T_STD_U8LE, H5T_NATIVE_UINT8, {buffer.bytes.size()},
                buffer.bytes.data(), path);
  }
  TORCH_CHECK(H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0, "pack: cannot flush '", path, "'");
}

}  // namespace

std::string shard_manifest_path(const std::string& prefix, const std::string& split) {
  return prefix + "-" + split + ".manifest";
}

PackResult pack_dataset(const Dataset& dataset, const std::string& prefix, const std::string& split,
                        const PackOptions& options) {
  TORCH_CHECK_VALUE(options.shard_size > 0, "pack: --shard-size must be positive, got ",
                    options.shard_size);
  TORCH_CHECK_VALUE(dataset.size() > 0, "pack: ", dataset.describe(), " is empty");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by the checks below
  const fs::path folder = fs::path(prefix).parent_path();
  if (!folder.empty()) fs::create_directories(folder);
  const std::string stem = fs::path(prefix).filename().string() + "-" + split;
  PackResult result;
  result.manifest = shard_manifest_path(prefix, split);
  std::ostringstream manifest;
  int64_t height = 0;
  int64_t width = 0;
  const int64_t channels = dataset.channels();
  ShardBuffer buffer;
  std::vector<std::string> shard_lines;
  auto flush = [&] {
    char name[32];
    std::snprintf(name, sizeof(name), "-%05ld.h5", static_cast<long>(result.shards));
    const std::string file = stem + name;
    const std::string path = (folder / file).string();
    write_shard(path, buffer, options.raw, height, width, channels);
    int64_t bytes = 0;
    const uint32_t crc = file_crc32(path, &bytes);
    char crc_text[16];
    std::snprintf(crc_text, sizeof(crc_text), "%08x", crc);
    shard_lines.push_back("shard " + file + " " + std::to_string(buffer.labels.size()) + " " +
                          std::to_string(bytes) + " " + crc_text);
    ++result.shards;
    buffer = ShardBuffer();
  };
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (options.raw) {
      const Sample sample = dataset.get(i);
      const cv::Mat image = sample.image.isContinuous() ? sample.image : sample.image.clone();
      if (i == 0) {
        height = image.rows;
        width = image.cols;
      }
      TORCH_CHECK(image.rows == height && image.cols == width && image.channels() == channels,
                  "pack: raw packing needs one image size, but ", dataset.source(i), " is ",
                  image.rows, "x", image.cols, "x", image.channels(), " after ", height, "x", width,
                  "x", channels, "; pack encoded files instead");
      buffer.bytes.insert(buffer.bytes.end(), image.data, image.data + image.total() * channels);
      buffer.labels.push_back(sample.label);
    } else {
      const std::string path = dataset.source(i);
      std::vector<uint8_t> bytes = read_file_bytes(path);
      // Refuse now what would fail at training time (the label comes from the dataset).
      decode_image(bytes.data(), bytes.size(), path, options.decode);
      buffer.bytes.insert(buffer.bytes.end(), bytes.begin(), bytes.end());
      buffer.offsets.push_back(static_cast<int64_t>(buffer.bytes.size()));
      buffer.labels.push_back(dataset.label(i));
    }
    if (static_cast<int64_t>(buffer.labels.size()) == options.shard_size) flush();
  }
  if (!buffer.labels.empty()) flush();
  result.samples = dataset.size();
  manifest << kMagic << "\n"
           << "kind " << (options.raw ? "raw" : "encoded") << "\n"
           << "samples " << result.samples << "\n"
           << "classes " << dataset.num_classes() << "\n"
           << "channels " << channels << "\n";
  if (options.raw) manifest << "shape " << height << " " << width << "\n";
  for (const std::string& line : shard_lines) manifest << line << "\n";
  const std::string temporary = result.manifest + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << manifest.str();
    out.close();
    TORCH_CHECK(out.good(), "pack: cannot write '", temporary, "'");
  }
  fs::rename(temporary, result.manifest);
  return result;
}

struct Hdf5ShardDataset::Shard {
  std::string path;
  int64_t first_index = 0;
  int64_t count = 0;
  hid_t file = -1;
  hid_t data = -1;  // "bytes" (encoded) or "images" (raw)
  std::vector<int64_t> offsets;
  std::vector<int64_t> labels;
  ~Shard() {
    if (data >= 0) H5Dclose(data);
    if (file >= 0) H5Fclose(file);
  }
};

namespace {

std::vector<int64_t> read_int64(hid_t file, const char* name, int64_t expected,
                                const std::string& path) {
  Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  TORCH_CHECK(set.id >= 0, "Hdf5ShardDataset: shard '", path, "' has no dataset '", name,
              "'; re-pack it");
  Handle space(H5Dget_space(set.id), H5Sclose);
  hsize_t dims[1] = {0};
  TORCH_CHECK(H5Sget_simple_extent_ndims(space.id) == 1 &&
                  H5Sget_simple_extent_dims(space.id, dims, nullptr) == 1 &&
                  static_cast<int64_t>(dims[0]) == expected,
              "Hdf5ShardDataset: shard '", path, "' dataset '", name, "' has ", dims[0],
              " entries, the manifest implies ", expected, "; re-pack it");
  std::vector<int64_t> values(static_cast<size_t>(expected));
  TORCH_CHECK(H5Dread(set.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0,
              "Hdf5ShardDataset: cannot read '", name, "' of shard '", path, "'");
  return values;
}

}  // namespace

Hdf5ShardDataset::Hdf5ShardDataset(const std::string& manifest, int64_t limit, DecodeOptions decode)
    : manifest_(manifest), decode_(decode) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::ifstream in(manifest);
  TORCH_CHECK(in.good(), "Hdf5ShardDataset: cannot open manifest '", manifest,
              "'; write it with pretext pack --out PREFIX and set data.root to PREFIX");
  std::string line;
  int64_t line_number = 1;
  TORCH_CHECK(std::getline(in, line) && line == kMagic, "Hdf5ShardDataset: '", manifest,
              "' line 1 is not '", kMagic, "': not a pretext shard manifest");
  int64_t declared = -1;
  const fs::path folder = fs::path(manifest).parent_path();
  while (std::getline(in, line)) {
    ++line_number;
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    bool ok = true;
    if (key == "kind") {
      std::string kind;
      ok = static_cast<bool>(fields >> kind) && (kind == "raw" || kind == "encoded");
      raw_ = kind == "raw";
    } else if (key == "samples") {
      ok = static_cast<bool>(fields >> declared);
    } else if (key == "classes") {
      ok = static_cast<bool>(fields >> num_classes_);
    } else if (key == "channels") {
      ok = static_cast<bool>(fields >> channels_) && (channels_ == 1 || channels_ == 3);
    } else if (key == "shape") {
      ok = static_cast<bool>(fields >> height_ >> width_) && height_ > 0 && width_ > 0;
    } else if (key == "shard") {
      auto shard = std::make_unique<Shard>();
      std::string file;
      int64_t bytes = 0;
      std::string crc_text;
      ok = static_cast<bool>(fields >> file >> shard->count >> bytes >> crc_text) &&
           shard->count > 0;
      TORCH_CHECK(ok, "Hdf5ShardDataset: '", manifest, "' line ", line_number, " is malformed: '",
                  line, "'");
      shard->path = (folder / file).string();
      TORCH_CHECK(fs::exists(shard->path), "Hdf5ShardDataset: shard '", shard->path,
                  "' listed in '", manifest, "' line ", line_number, " does not exist");
      int64_t actual_bytes = 0;
      const uint32_t crc = file_crc32(shard->path, &actual_bytes);
      char actual_crc[16];
      std::snprintf(actual_crc, sizeof(actual_crc), "%08x", crc);
      TORCH_CHECK(actual_bytes == bytes && crc_text == actual_crc, "Hdf5ShardDataset: shard '",
                  shard->path, "' is corrupt: ", actual_bytes, " bytes with CRC-32 ", actual_crc,
                  ", the manifest says ", bytes, " bytes with CRC-32 ", crc_text, "; re-pack it");
      shard->file = H5Fopen(shard->path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      TORCH_CHECK(shard->file >= 0, "Hdf5ShardDataset: shard '", shard->path,
                  "' is not a readable HDF5 file; re-pack it");
      shard->labels = read_int64(shard->file, "labels", shard->count, shard->path);
      if (!raw_) shard->offsets = read_int64(shard->file, "offsets", shard->count + 1, shard->path);
      shard->data = H5Dopen2(shard->file, raw_ ? "images" : "bytes", H5P_DEFAULT);
      TORCH_CHECK(shard->data >= 0, "Hdf5ShardDataset: shard '", shard->path, "' has no '",
                  raw_ ? "images" : "bytes", "' dataset; re-pack it");
      for (const int64_t label : shard->labels) {
        TORCH_CHECK(label == -1 || (0 <= label && label < num_classes_),
                    "Hdf5ShardDataset: shard '", shard->path, "' holds label ", label,
                    " outside [0, ", num_classes_, ")");
      }
      shard->first_index = size_;
      size_ += shard->count;
      shards_.push_back(std::move(shard));
    } else if (!key.empty()) {
      ok = false;
    }
    TORCH_CHECK(ok, "Hdf5ShardDataset: '", manifest, "' line ", line_number,
                " is malformed or unknown: '", line, "'");
  }
  TORCH_CHECK(!shards_.empty() && declared == size_, "Hdf5ShardDataset: '", manifest, "' declares ",
              declared, " samples but its shards hold ", size_,
              "; the manifest is damaged, re-pack");
  TORCH_CHECK(!raw_ || (height_ > 0 && width_ > 0), "Hdf5ShardDataset: '", manifest,
              "' is raw but has no 'shape' line");
  if (limit > 0) size_ = std::min(size_, limit);
}

Hdf5ShardDataset::~Hdf5ShardDataset() = default;

const Hdf5ShardDataset::Shard& Hdf5ShardDataset::locate(int64_t index, int64_t* local) const {
  TORCH_CHECK(0 <= index && index < size_, "Hdf5ShardDataset: index ", index, " outside [0, ",
              size_, ") of ", describe());
  size_t s = shards_.size() - 1;
  while (shards_[s]->first_index > index) --s;
  *local = index - shards_[s]->first_index;
  return *shards_[s];
}

Sample Hdf5ShardDataset::get_for_views(int64_t index, const ViewNeeds& needs) const {
  DecodeOptions decode = decode_;
  decode.min_side = needs.min_shorter_side;
  decode.min_sqrt_area = needs.min_sqrt_area;
  return read(index, decode);
}

Sample Hdf5ShardDataset::read(int64_t index, const DecodeOptions& decode) const {
  int64_t local = 0;
  const Shard& shard = locate(index, &local);
  Handle space(H5Dget_space(shard.data), H5Sclose);
  Sample sample;
  sample.label = shard.labels[static_cast<size_t>(local)];
  if (raw_) {
    const hsize_t start[4] = {static_cast<hsize_t>(local), 0, 0, 0};
    const hsize_t count[4] = {1, static_cast<hsize_t>(height_), static_cast<hsize_t>(width_),
                              static_cast<hsize_t>(channels_)};
    sample.image.create(static_cast<int>(height_), static_cast<int>(width_),
                        CV_8UC(static_cast<int>(channels_)));
    Handle memory(H5Screate_simple(4, count, nullptr), H5Sclose);
    TORCH_CHECK(
        H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0 &&
            H5Dread(shard.data, H5T_NATIVE_UINT8, memory.id, space.id, H5P_DEFAULT,
                    sample.image.data) >= 0,
        "Hdf5ShardDataset: cannot read ", source(index));
    return sample;
  }
  const int64_t begin = shard.offsets[static_cast<size_t>(local)];
  const int64_t end = shard.offsets[static_cast<size_t>(local) + 1];
  if (end <= begin) throw UnreadableSample(source(index), "empty entry in the shard");
  std::vector<uint8_t> bytes(static_cast<size_t>(end - begin));
  const hsize_t start[1] = {static_cast<hsize_t>(begin)};
  const hsize_t count[1] = {static_cast<hsize_t>(end - begin)};
  Handle memory(H5Screate_simple(1, count, nullptr), H5Sclose);
  TORCH_CHECK(H5Sselect_hyperslab(space.id, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0 &&
                  H5Dread(shard.data, H5T_NATIVE_UINT8, memory.id, space.id, H5P_DEFAULT,
                          bytes.data()) >= 0,
              "Hdf5ShardDataset: cannot read ", source(index), " (offsets out of range?)");
  sample.image = decode_image(bytes.data(), bytes.size(), source(index), decode);
  return sample;
}

std::string Hdf5ShardDataset::describe() const {
  return "hdf5 shards (" + std::to_string(size_) + (raw_ ? " raw" : " encoded") + " images in " +
         std::to_string(shards_.size()) + " shards of " + manifest_ + ")";
}

std::string Hdf5ShardDataset::source(int64_t index) const {
  int64_t local = 0;
  const Shard& shard = locate(index, &local);
  return shard.path + " sample " + std::to_string(local);
}

}  // namespace pretext
