// Packed datasets: HDF5 shard files plus a text manifest with per-shard sample counts, sizes
// and CRC-32 checksums. A shard holds either the original encoded image files ("encoded":
// bytes + offsets, decoded at load time, for image folders) or raw uint8 pixel arrays ("raw":
// [N, H, W, C], for small fixed-size images such as CIFAR or Fashion-MNIST), and int64 labels.
// Layout of a manifest PREFIX-<split>.manifest, one item per line:
//   pretext-hdf5-shards 1 | kind encoded|raw | samples N | classes K | channels C |
//   shape H W (raw only) | shard <file name> <samples> <bytes> <crc32 hex>  (one per shard)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_decode.h"

namespace pretext {

struct PackOptions {
  /// Samples per shard file.
  int64_t shard_size = 10000;
  /// raw pixel arrays instead of encoded files (for datasets without files to copy).
  bool raw = false;
  /// Limits applied when checking that each encoded file decodes (data.max_pixels).
  DecodeOptions decode;
};

struct PackResult {
  std::string manifest;
  int64_t samples = 0;
  int64_t shards = 0;
};

/// Writes `dataset` as shards <prefix>-<split>-NNNNN.h5 and the manifest <prefix>-<split>.manifest
/// (written last, by rename, so a manifest always describes complete shards). Encoded packing
/// copies each file's bytes (`dataset.source(i)` must be a file path) after checking it decodes;
/// raw packing stores get(i) and needs every image to have the same size. Throws naming the
/// sample or file that cannot be packed.
PackResult pack_dataset(const Dataset& dataset, const std::string& prefix, const std::string& split,
                        const PackOptions& options);

/// Reads a manifest and its shards; verifies each shard's size and CRC-32 when opened, and the
/// datasets' lengths, refusing a damaged shard or manifest by name. get() is thread-safe
/// (the system HDF5 is built thread-safe).
class Hdf5ShardDataset final : public Dataset {
 public:
  Hdf5ShardDataset(const std::string& manifest, int64_t limit = 0, DecodeOptions decode = {});
  ~Hdf5ShardDataset() override;

  int64_t size() const override { return size_; }
  int64_t channels() const override { return channels_; }
  int64_t num_classes() const override { return num_classes_; }
  Sample get(int64_t index) const override { return read(index, decode_); }
  /// Encoded shards: decodes a large JPEG at reduced size when `needs` allows it.
  Sample get_for_views(int64_t index, const ViewNeeds& needs) const override;
  std::string describe() const override;
  std::string source(int64_t index) const override;

 private:
  struct Shard;
  const Shard& locate(int64_t index, int64_t* local) const;
  Sample read(int64_t index, const DecodeOptions& decode) const;

  std::string manifest_;
  bool raw_ = false;
  int64_t channels_ = 3;
  int64_t num_classes_ = 0;
  int64_t height_ = 0;
  int64_t width_ = 0;
  int64_t size_ = 0;
  DecodeOptions decode_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

/// <prefix>-<split>.manifest
std::string shard_manifest_path(const std::string& prefix, const std::string& split);

}  // namespace pretext
