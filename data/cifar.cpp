// CifarDataset: memory-mapped CIFAR binary files, validated once, decoded per get().
// Reference: the binary-version description on the CIFAR page (record layouts above);
// torchvision.datasets.CIFAR10 reads the pickled Python version instead, with the same pixels.
// Deviations: files are read from `root` or the archive's own folder; no download or md5 check.
#include "data/cifar.h"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace pretext {

namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kPixelBytes = 3 * kPlane;

bool is_cifar100(CifarLabels labels) { return labels != CifarLabels::kCifar10; }

std::string find_file(const std::string& root, const std::string& archive_folder,
                      const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path direct = fs::path(root) / name;
  const fs::path nested = fs::path(root) / archive_folder / name;
  std::error_code error;
  if (fs::is_regular_file(direct, error)) return direct.string();
  if (fs::is_regular_file(nested, error)) return nested.string();
  TORCH_CHECK(false, "open_dataset: CIFAR file not found: tried '", direct.string(), "' and '",
              nested.string(), "'; set data.root to the folder of the binary version (",
              archive_folder, ")");
  return "";
}

}  // namespace

CifarDataset::CifarDataset(const std::vector<std::string>& files, CifarLabels labels, int64_t limit,
                           std::string name)
    : name_(std::move(name)) {
  TORCH_CHECK_VALUE(!files.empty(), "CifarDataset: no files given");
  TORCH_CHECK_VALUE(limit >= 0, "CifarDataset: limit must be >= 0, got ", limit);
  record_bytes_ = (is_cifar100(labels) ? 2 : 1) + kPixelBytes;
  label_offset_ = labels == CifarLabels::kCifar100Fine ? 1 : 0;
  num_classes_ = labels == CifarLabels::kCifar10        ? 10
                 : labels == CifarLabels::kCifar100Fine ? 100
                                                        : 20;
  for (const std::string& path : files) {
    auto file = std::make_unique<MappedFile>(path);
    const int64_t bytes = file->size();
    TORCH_CHECK(bytes > 0, "CifarDataset: '", path, "' is empty (0 bytes); re-extract it");
    const int64_t records = bytes / record_bytes_;
    TORCH_CHECK(bytes % record_bytes_ == 0, "CifarDataset: '", path,
                "' is truncated or padded: ", bytes, " bytes is not a whole number of ",
                record_bytes_, "-byte records; record ", records, " at byte offset ",
                records * record_bytes_, " has only ", bytes - records * record_bytes_, " bytes");
    // Validate every label of both kinds, so a damaged file fails here, not mid-training.
    for (int64_t r = 0; r < records; ++r) {
      const int64_t offset = r * record_bytes_;
      for (int64_t k = 0; k < record_bytes_ - kPixelBytes; ++k) {
        const int64_t limit_k = !is_cifar100(labels) ? 10 : (k == 0 ? 20 : 100);
        const int64_t value = file->data()[offset + k];
        TORCH_CHECK(value < limit_k, "CifarDataset: '", path, "' record ", r, " at byte offset ",
                    offset + k, " holds ",
                    !is_cifar100(labels) ? "label "
                    : k == 0             ? "coarse label "
                                         : "fine label ",
                    value, ", outside [0, ", limit_k, "); the file is not a ",
                    is_cifar100(labels) ? "CIFAR-100" : "CIFAR-10", " binary file or is damaged");
      }
    }
    first_index_.push_back(size_);
    size_ += records;
    files_.push_back(std::move(file));
  }
  if (limit > 0) size_ = std::min(size_, limit);
}

std::pair<const MappedFile*, int64_t> CifarDataset::locate(int64_t index) const {
  TORCH_CHECK(0 <= index && index < size_, "CifarDataset: index ", index, " outside [0, ", size_,
              ") of ", describe());
  const auto after = std::upper_bound(first_index_.begin(), first_index_.end(), index);
  const auto f = static_cast<size_t>(after - first_index_.begin() - 1);
  return {files_[f].get(), index - first_index_[f]};
}

Sample CifarDataset::get(int64_t index) const {
  const auto [file, record] = locate(index);
  const uint8_t* bytes = file->data() + record * record_bytes_;
  const uint8_t* planes = bytes + (record_bytes_ - kPixelBytes);
  Sample sample;
  sample.image.create(static_cast<int>(kSide), static_cast<int>(kSide), CV_8UC3);
  uint8_t* rgb = sample.image.ptr<uint8_t>(0);
  for (int64_t p = 0; p < kPlane; ++p) {
    rgb[3 * p] = planes[p];
    rgb[3 * p + 1] = planes[kPlane + p];
    rgb[3 * p + 2] = planes[2 * kPlane + p];
  }
  sample.label = bytes[label_offset_];
  return sample;
}

std::string CifarDataset::describe() const {
  return name_ + " (" + std::to_string(size_) + " images from " + files_.front()->path() +
         (files_.size() > 1 ? " and " + std::to_string(files_.size() - 1) + " more files" : "") +
         ")";
}

std::string CifarDataset::source(int64_t index) const {
  const auto [file, record] = locate(index);
  return file->path() + " record " + std::to_string(record) + " (byte offset " +
         std::to_string(record * record_bytes_) + ")";
}

std::shared_ptr<Dataset> open_cifar(const std::string& root, CifarLabels labels,
                                    const std::string& split, int64_t limit) {
  std::vector<std::string> files;
  if (!is_cifar100(labels)) {
    const std::string folder = "cifar-10-batches-bin";
    if (split == "train") {
      for (int b = 1; b <= 5; ++b) {
        files.push_back(find_file(root, folder, "data_batch_" + std::to_string(b) + ".bin"));
      }
    } else {
      files.push_back(find_file(root, folder, "test_batch.bin"));
    }
    return std::make_shared<CifarDataset>(files, labels, limit, "cifar10 " + split);
  }
  files.push_back(find_file(root, "cifar-100-binary", split + ".bin"));
  const char* kind = labels == CifarLabels::kCifar100Fine ? " (fine labels)" : " (coarse labels)";
  return std::make_shared<CifarDataset>(files, labels, limit, "cifar100 " + split + kind);
}

}  // namespace pretext
