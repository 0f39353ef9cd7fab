// HDF5 feature files through the HDF5 C API (no C++ bindings: they are not in every build).
#include "evaluation/feature_file.h"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace pretext {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "pretext-features";
constexpr int64_t kVersion = 1;

// HDF5 handles closed on scope exit; HDF5's own error stack printing is switched off while
// one of these is alive, so failures surface as our messages instead of stderr dumps.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

void write_string_attribute(hid_t object, const char* name, const std::string& value,
                            const std::string& path) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose);
  TORCH_CHECK(attribute.ok(), "feature file ", path, ": cannot create attribute '", name, "'");
  const std::string stored = value.empty() ? std::string(1, '\0') : value;
  TORCH_CHECK(H5Awrite(attribute.get(), type.get(), stored.data()) >= 0, "feature file ", path,
              ": cannot write attribute '", name, "'");
}

std::string read_string_attribute(hid_t object, const char* name, const std::string& path) {
  TORCH_CHECK(H5Aexists(object, name) > 0, "feature file ", path, ": attribute '", name,
              "' is missing; not a pretext feature file?");
  Handle attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  TORCH_CHECK(type.ok() && H5Tget_class(type.get()) == H5T_STRING, "feature file ", path,
              ": attribute '", name, "' is not a string");
  TORCH_CHECK(H5Tis_variable_str(type.get()) == 0, "feature file ", path, ": attribute '", name,
              "' is a variable-length string; expected a fixed-length one");
  std::string value(H5Tget_size(type.get()), '\0');
  TORCH_CHECK(H5Aread(attribute.get(), type.get(), value.data()) >= 0, "feature file ", path,
              ": cannot read attribute '", name, "'");
  value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
  return value;
}

void write_dataset(hid_t file, const char* name, const torch::Tensor& tensor, hid_t memory_type,
                   const std::string& path) {
  std::vector<hsize_t> dims(tensor.sizes().begin(), tensor.sizes().end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // Chunks of about 1 MiB rows, so readers can take a slice without the whole file.
  if (tensor.numel() > 0) {
    std::vector<hsize_t> chunk = dims;
    const hsize_t row_bytes =
        std::max<hsize_t>(1, tensor.numel() / dims[0] * tensor.element_size());
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 20) / row_bytes));
    H5Pset_chunk(properties.get(), static_cast<int>(chunk.size()), chunk.data());
  }
  Handle dataset(
      H5Dcreate2(file, name, memory_type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
      H5Dclose);
  TORCH_CHECK(dataset.ok(), "feature file ", path, ": cannot create dataset '", name, "'");
  TORCH_CHECK(
      H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data_ptr()) >= 0,
      "feature file ", path, ": cannot write dataset '", name, "' (disk full?)");
}

torch::Tensor read_dataset(hid_t file, const char* name, int rank, torch::ScalarType dtype,
                           hid_t memory_type, const std::string& path) {
  TORCH_CHECK(H5Lexists(file, name, H5P_DEFAULT) > 0, "feature file ", path, ": dataset '", name,
              "' is missing");
  Handle dataset(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  TORCH_CHECK(H5Sget_simple_extent_ndims(space.get()) == rank, "feature file ", path, ": dataset '",
              name, "' must have ", rank, " dimensions, has ",
              H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<int64_t> sizes(dims.begin(), dims.end());
  auto tensor = torch::empty(sizes, torch::TensorOptions().dtype(dtype));
  if (tensor.numel() > 0) {
    TORCH_CHECK(
        H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data_ptr()) >= 0,
        "feature file ", path, ": dataset '", name, "' cannot be read (corrupt file?)");
  }
  return tensor;
}

}  // namespace

void write_feature_file(const std::string& path, const Features& features,
                        const FeatureProvenance& provenance) {
  const auto values = features.features.to(torch::kCPU, torch::kFloat).contiguous();
  const auto labels = features.labels.to(torch::kCPU, torch::kLong).contiguous();
  TORCH_CHECK(values.dim() == 2 && labels.dim() == 1 && labels.size(0) == values.size(0),
              "feature file ", path, ": features must be [N, D] with labels [N], got ",
              values.sizes(), " and ", labels.sizes());
  const fs::path target(path);
  if (!target.parent_path().empty()) fs::create_directories(target.parent_path());
  const std::string temporary = path + ".tmp";
  QuietHdf5Errors quiet;
  {
    Handle file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    TORCH_CHECK(file.ok(), "feature file ", path, ": cannot create '", temporary,
                "' (does the directory exist and is it writable?)");
    write_dataset(file.get(), "features", values, H5T_NATIVE_FLOAT, path);
    write_dataset(file.get(), "labels", labels, H5T_NATIVE_INT64, path);
    write_string_attribute(file.get(), "format", kFormat, path);
    write_string_attribute(file.get(), "version", std::to_string(kVersion), path);
    write_string_attribute(file.get(), "checkpoint", provenance.checkpoint, path);
    write_string_attribute(file.get(), "checkpoint_hash", provenance.checkpoint_hash, path);
    write_string_attribute(file.get(), "split", provenance.split, path);
    write_string_attribute(file.get(), "encoder", provenance.encoder, path);
    write_string_attribute(file.get(), "config", provenance.config_text, path);
    write_string_attribute(file.get(), "feature_key", provenance.feature_key, path);
    TORCH_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL) >= 0, "feature file ", path,
                ": cannot flush '", temporary, "' (disk full?)");
  }
  fs::rename(temporary, target);
}

FeatureFile read_feature_file(const std::string& path) {
  TORCH_CHECK_VALUE(fs::exists(path), "feature file '", path, "' does not exist");
  QuietHdf5Errors quiet;
  TORCH_CHECK_VALUE(H5Fis_hdf5(path.c_str()) > 0, "feature file '", path,
                    "' is not an HDF5 file (truncated or not written by pretext extract?)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  TORCH_CHECK_VALUE(file.ok(), "feature file '", path, "' cannot be opened (corrupt?)");
  const std::string format = read_string_attribute(file.get(), "format", path);
  TORCH_CHECK_VALUE(format == kFormat, "feature file '", path, "' has format '", format,
                    "', expected '", kFormat, "'");
  const std::string version = read_string_attribute(file.get(), "version", path);
  TORCH_CHECK_VALUE(version == std::to_string(kVersion), "feature file '", path, "' has version ",
                    version, "; this pretext reads version ", kVersion);
  FeatureFile result;
  result.provenance.checkpoint = read_string_attribute(file.get(), "checkpoint", path);
  result.provenance.checkpoint_hash = read_string_attribute(file.get(), "checkpoint_hash", path);
  result.provenance.split = read_string_attribute(file.get(), "split", path);
  result.provenance.encoder = read_string_attribute(file.get(), "encoder", path);
  result.provenance.config_text = read_string_attribute(file.get(), "config", path);
  result.provenance.feature_key = read_string_attribute(file.get(), "feature_key", path);
  result.features.features =
      read_dataset(file.get(), "features", 2, torch::kFloat, H5T_NATIVE_FLOAT, path);
  result.features.labels =
      read_dataset(file.get(), "labels", 1, torch::kLong, H5T_NATIVE_INT64, path);
  TORCH_CHECK_VALUE(result.features.labels.size(0) == result.features.features.size(0),
                    "feature file '", path, "' holds ", result.features.features.size(0),
                    " feature rows but ", result.features.labels.size(0), " labels");
  TORCH_CHECK_VALUE(result.features.features.isfinite().all().item<bool>(), "feature file '", path,
                    "' holds non-finite features");
  return result;
}

std::string checkpoint_file_hash(const std::string& path) {
  // FNV-1a, not a CRC: a file that ends with the CRC-32 of its own content (pretext's
  // checkpoints do) has the same whole-file CRC-32 as every other such file of its size (the
  // CRC residue), so a CRC cannot tell two checkpoints apart. FNV-1a is not linear in the bits.
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK_VALUE(in, "checkpoint '", path, "' cannot be read");
  uint64_t hash = 0xcbf29ce484222325ULL;
  std::vector<char> buffer(1 << 20);
  int64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    for (std::streamsize i = 0; i < got; ++i) {
      hash = (hash ^ static_cast<unsigned char>(buffer[static_cast<size_t>(i)])) * 0x100000001b3ULL;
    }
    size += got;
  }
  char text[64];
  std::snprintf(text, sizeof(text), "fnv1a64:%016llx:size:%ld",
                static_cast<unsigned long long>(hash), static_cast<long>(size));
  return text;
}

}  // namespace pretext
