// STL-10 in its official binary layout (stl10_binary/): <split>_X.bin holds 3x96x96 uint8
// images, each channel plane stored column-major (MATLAB order), and <split>_y.bin one label
// byte per image in 1..10. Splits: train (5000), test (8000), unlabeled (100000, no _y file).
// Format: https://cs.stanford.edu/~acoates/stl10/
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/mapped_file.h"

namespace pretext {

/// One or more STL-10 parts (e.g. train then unlabeled), in order; images are 96x96x3 uint8 RGB,
/// labels 0..9 (the file's 1..10 minus one), -1 for unlabeled images. The X files are
/// memory-mapped, so the 2.7 GB unlabeled split costs no resident memory up front.
class Stl10Dataset final : public Dataset {
 public:
  struct Part {
    std::string images;  ///< <split>_X.bin
    std::string labels;  ///< <split>_y.bin, empty for the unlabeled split
  };

  /// Throws, naming the file and byte offset, when an X file is empty or not a whole number of
  /// images, a _y file's count differs from its X file's, or a label is outside 1..10.
  Stl10Dataset(const std::vector<Part>& parts, int64_t limit = 0, std::string name = "stl10");

  int64_t size() const override { return size_; }
  int64_t channels() const override { return 3; }
  int64_t num_classes() const override { return 10; }
  Sample get(int64_t index) const override;
  std::string describe() const override;
  std::string source(int64_t index) const override;

 private:
  struct LoadedPart {
    std::unique_ptr<MappedFile> images;
    std::unique_ptr<MappedFile> labels;  // null: unlabeled
    int64_t first_index = 0;
  };
  const LoadedPart& locate(int64_t index) const;

  std::vector<LoadedPart> parts_;
  int64_t size_ = 0;
  std::string name_;
};

/// Split "train" or "test" under `root` or root/stl10_binary. The training split is
/// `train_split`: train (labelled 5000) | unlabeled (100000) | train+unlabeled (both, the
/// usual self-supervised set); "test" is always the labelled test set.
std::shared_ptr<Dataset> open_stl10(const std::string& root, const std::string& split,
                                    const std::string& train_split, int64_t limit);

}  // namespace pretext
