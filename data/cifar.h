// CIFAR-10 and CIFAR-100 in their official binary layouts ("binary version" archives).
// CIFAR-10: data_batch_1..5.bin (train) and test_batch.bin, records of <1 label byte><3072
// pixel bytes>. CIFAR-100: train.bin and test.bin, records of <1 coarse label><1 fine label>
// <3072 pixel bytes>. Pixels are the red, green and blue 32x32 planes, each row-major.
// Format: https://www.cs.toronto.edu/~kriz/cifar.html
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/mapped_file.h"

namespace pretext {

/// Which label a record yields.
enum class CifarLabels { kCifar10, kCifar100Fine, kCifar100Coarse };

/// Records of one or more CIFAR binary files, in file order; images are 32x32x3 uint8 RGB.
class CifarDataset final : public Dataset {
 public:
  /// Throws, naming the file and byte offset, when a file is empty, is not a whole number of
  /// records, or holds a label outside [0, num_classes). limit > 0 keeps the first `limit`.
  CifarDataset(const std::vector<std::string>& files, CifarLabels labels, int64_t limit = 0,
               std::string name = "cifar");

  int64_t size() const override { return size_; }
  int64_t channels() const override { return 3; }
  int64_t num_classes() const override { return num_classes_; }
  Sample get(int64_t index) const override;
  std::string describe() const override;
  /// "<file> record <i> (byte offset <o>)".
  std::string source(int64_t index) const override;

 private:
  /// (file, record in that file) of a dataset index.
  std::pair<const MappedFile*, int64_t> locate(int64_t index) const;

  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<int64_t> first_index_;  // dataset index of each file's first record
  int64_t record_bytes_ = 0;
  int64_t label_offset_ = 0;
  int64_t num_classes_ = 0;
  int64_t size_ = 0;
  std::string name_;
};

/// The split's files under `root` (or under root/cifar-10-batches-bin, root/cifar-100-binary,
/// the folders the official archives unpack to). labels picks CIFAR-10 or CIFAR-100; split is
/// train or test. Throws naming every path tried when a file is missing.
std::shared_ptr<Dataset> open_cifar(const std::string& root, CifarLabels labels,
                                    const std::string& split, int64_t limit);

}  // namespace pretext
