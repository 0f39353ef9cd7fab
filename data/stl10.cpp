// Stl10Dataset: memory-mapped STL-10 binary files, validated once, transposed per get().
// Reference: torchvision.datasets.STL10.__loadfile (reshape to (-1, 3, 96, 96), then transpose
// (0, 1, 3, 2) because each plane is column-major; labels minus 1).
// Deviations: no download or md5 check; the folds file is not read; the unlabeled split can be
// combined with train for self-supervised training (torchvision's "train+unlabeled").
#include "data/stl10.h"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace pretext {

namespace {

constexpr int64_t kSide = 96;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kImageBytes = 3 * kPlane;

std::string find_file(const std::string& root, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path direct = fs::path(root) / name;
  const fs::path nested = fs::path(root) / "stl10_binary" / name;
  std::error_code error;
  if (fs::is_regular_file(direct, error)) return direct.string();
  if (fs::is_regular_file(nested, error)) return nested.string();
  TORCH_CHECK(false, "open_dataset: STL-10 file not found: tried '", direct.string(), "' and '",
              nested.string(),
              "'; set data.root to the folder of the binary version (stl10_binary)");
  return "";
}

}  // namespace

Stl10Dataset::Stl10Dataset(const std::vector<Part>& parts, int64_t limit, std::string name)
    : name_(std::move(name)) {
  TORCH_CHECK_VALUE(!parts.empty(), "Stl10Dataset: no files given");
  TORCH_CHECK_VALUE(limit >= 0, "Stl10Dataset: limit must be >= 0, got ", limit);
  for (const Part& part : parts) {
    LoadedPart loaded;
    loaded.images = std::make_unique<MappedFile>(part.images);
    const int64_t bytes = loaded.images->size();
    TORCH_CHECK(bytes > 0, "Stl10Dataset: '", part.images, "' is empty (0 bytes); re-extract it");
    const int64_t count = bytes / kImageBytes;
    TORCH_CHECK(bytes % kImageBytes == 0, "Stl10Dataset: '", part.images,
                "' is truncated or padded: ", bytes, " bytes is not a whole number of ",
                kImageBytes, "-byte 3x96x96 images; image ", count, " at byte offset ",
                count * kImageBytes, " has only ", bytes - count * kImageBytes, " bytes");
    if (!part.labels.empty()) {
      loaded.labels = std::make_unique<MappedFile>(part.labels);
      TORCH_CHECK(loaded.labels->size() == count, "Stl10Dataset: '", part.labels, "' holds ",
                  loaded.labels->size(), " labels but '", part.images, "' holds ", count, " images",
                  loaded.labels->size() < count ? " (labels file truncated)" : "");
      for (int64_t i = 0; i < count; ++i) {
        const int64_t label = loaded.labels->data()[i];
        TORCH_CHECK(1 <= label && label <= 10, "Stl10Dataset: '", part.labels, "' holds label ",
                    label, " at byte offset ", i,
                    ", outside 1..10; the file is not an STL-10 labels file or is damaged");
      }
    }
    loaded.first_index = size_;
    size_ += count;
    parts_.push_back(std::move(loaded));
  }
  if (limit > 0) size_ = std::min(size_, limit);
}

const Stl10Dataset::LoadedPart& Stl10Dataset::locate(int64_t index) const {
  TORCH_CHECK(0 <= index && index < size_, "Stl10Dataset: index ", index, " outside [0, ", size_,
              ") of ", describe());
  size_t p = parts_.size() - 1;
  while (parts_[p].first_index > index) --p;
  return parts_[p];
}

Sample Stl10Dataset::get(int64_t index) const {
  const LoadedPart& part = locate(index);
  const int64_t local = index - part.first_index;
  const uint8_t* planes = part.images->data() + local * kImageBytes;
  Sample sample;
  sample.image.create(static_cast<int>(kSide), static_cast<int>(kSide), CV_8UC3);
  for (int64_t row = 0; row < kSide; ++row) {
    uint8_t* out = sample.image.ptr<uint8_t>(static_cast<int>(row));
    for (int64_t col = 0; col < kSide; ++col) {
      // Column-major planes: (row, col) sits at col * 96 + row.
      const int64_t at = col * kSide + row;
      out[3 * col] = planes[at];
      out[3 * col + 1] = planes[kPlane + at];
      out[3 * col + 2] = planes[2 * kPlane + at];
    }
  }
  sample.label = part.labels ? part.labels->data()[local] - 1 : -1;
  return sample;
}

std::string Stl10Dataset::describe() const {
  return name_ + " (" + std::to_string(size_) + " images from " + parts_.front().images->path() +
         (parts_.size() > 1 ? " and " + parts_.back().images->path() : "") + ")";
}

std::string Stl10Dataset::source(int64_t index) const {
  const LoadedPart& part = locate(index);
  const int64_t local = index - part.first_index;
  return part.images->path() + " image " + std::to_string(local) + " (byte offset " +
         std::to_string(local * kImageBytes) + ")";
}

std::shared_ptr<Dataset> open_stl10(const std::string& root, const std::string& split,
                                    const std::string& train_split, int64_t limit) {
  TORCH_CHECK_VALUE(
      train_split == "train" || train_split == "unlabeled" || train_split == "train+unlabeled",
      "data.stl10_train_split must be train, unlabeled or train+unlabeled, got '", train_split,
      "'");
  auto labelled = [&root](const std::string& name) {
    return Stl10Dataset::Part{find_file(root, name + "_X.bin"), find_file(root, name + "_y.bin")};
  };
  std::vector<Stl10Dataset::Part> parts;
  const std::string chosen = split == "test" ? "test" : train_split;
  if (chosen == "test" || chosen == "train" || chosen == "train+unlabeled") {
    parts.push_back(labelled(chosen == "test" ? "test" : "train"));
  }
  if (chosen == "unlabeled" || chosen == "train+unlabeled") {
    parts.push_back({find_file(root, "unlabeled_X.bin"), ""});
  }
  return std::make_shared<Stl10Dataset>(parts, limit, "stl10 " + chosen);
}

}  // namespace pretext
