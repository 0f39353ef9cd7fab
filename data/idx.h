// IDX files (the MNIST / Fashion-MNIST container), gzip-compressed or plain, and the Dataset
// built from an images file plus a labels file.
// Format: http://yann.lecun.com/exdb/mnist/ (magic 0x00 0x00 <type> <ndims>, big-endian u32
// dims, then the data row-major).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/dataset.h"

namespace pretext {

struct IdxArray {
  std::vector<int64_t> dims;  ///< as stored, e.g. {60000, 28, 28}
  torch::Tensor data;         ///< uint8, shape `dims`, contiguous
};

/// Reads an unsigned-byte (type 0x08) IDX file; gzip is detected by its 0x1f 0x8b magic.
/// Throws, naming the path, on a wrong magic, an unsupported type, or a truncated or
/// over-long file (truncation also gives the byte offset where the data ran out).
IdxArray read_idx(const std::string& path);

/// Images [N, H, W] with labels [N] in [0, num_classes).
class IdxDataset final : public Dataset {
 public:
  /// limit > 0 keeps only the first `limit` samples.
  IdxDataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes,
             int64_t limit = 0, std::string name = "idx");

  int64_t size() const override { return images_.size(0); }
  int64_t channels() const override { return 1; }
  int64_t num_classes() const override { return num_classes_; }
  Sample get(int64_t index) const override;
  std::string describe() const override;

 private:
  torch::Tensor images_;  // [N, H, W] uint8
  torch::Tensor labels_;  // [N] uint8
  int64_t num_classes_;
  std::string images_path_;
  std::string name_;
};

}  // namespace pretext
