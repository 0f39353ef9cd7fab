// ImageFolderDataset: lists <root>/<split>/<class>/<image> once, decodes one file per get().
// Reference: torchvision.datasets.ImageFolder (find_classes, make_dataset) and its PIL loader
// (Image.open(path).convert("RGB")).
// Deviations: only .jpg .jpeg .png .bmp .webp; no recursion below class folders; entries whose
// name starts with '.' are skipped; "val" stands in for a missing "test"; a split folder without
// class folders is read as unlabelled instead of refused; OpenCV applies the EXIF orientation,
// which the PIL loader ignores.
#include "data/image_folder.h"

#include "data/image_folder_index.h"

#include <filesystem>
#include <system_error>

namespace pretext {

namespace {

namespace fs = std::filesystem;

bool is_folder(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

}  // namespace

ImageFolderDataset::ImageFolderDataset(const std::string& root, const std::string& split,
                                       int64_t limit, DecodeOptions decode,
                                       const std::string& index_cache)
    : split_(split), decode_(decode) {
  TORCH_CHECK_VALUE(decode.max_pixels > 0, "ImageFolderDataset: max_pixels must be positive, got ",
                    decode.max_pixels);
  TORCH_CHECK_VALUE(split == "train" || split == "test", "ImageFolderDataset: unknown split '",
                    split, "'; known: train, test");
  TORCH_CHECK_VALUE(limit >= 0, "ImageFolderDataset: limit must be >= 0, got ", limit);
  const fs::path named = fs::path(root) / split;
  const fs::path val = fs::path(root) / "val";
  std::string expected = "expected " + (named / "<class>" / "<image>").string();
  if (split == "test") {
    expected += " or " + (val / "<class>" / "<image>").string();
  }
  TORCH_CHECK(is_folder(root), "ImageFolderDataset: dataset root '", root,
              "' is not an existing folder; ", expected, "; set the dataset root");
  fs::path folder = named;
  if (split == "test" && !is_folder(folder)) {
    folder = val;
  }
  TORCH_CHECK(is_folder(folder), "ImageFolderDataset: no split folder '", named.string(), "'",
              split == "test" ? " or '" + val.string() + "'" : "", " in dataset root '", root,
              "'; ", expected);
  folder_ = folder.string();

  const ImageFolderIndex index = index_image_folder(folder_, index_cache, expected);
  classes_ = index.classes;
  labels_ = index.labels;
  paths_.reserve(index.files.size());
  for (const std::string& file : index.files) paths_.push_back((folder / file).string());
  if (limit > 0 && limit < size()) {
    paths_.resize(static_cast<size_t>(limit));
    labels_.resize(static_cast<size_t>(limit));
  }
}

const std::string& ImageFolderDataset::path(int64_t index) const {
  TORCH_CHECK(0 <= index && index < size(), "ImageFolderDataset: index ", index, " outside [0, ",
              size(), ") of ", describe());
  return paths_[static_cast<size_t>(index)];
}

Sample ImageFolderDataset::get(int64_t index) const {
  Sample sample;
  sample.image = decode_image_file(path(index), decode_);
  sample.label = labels_[static_cast<size_t>(index)];
  return sample;
}

Sample ImageFolderDataset::get_for_views(int64_t index, const ViewNeeds& needs) const {
  DecodeOptions decode = decode_;
  decode.min_side = needs.min_shorter_side;
  decode.min_sqrt_area = needs.min_sqrt_area;
  Sample sample;
  sample.image = decode_image_file(path(index), decode);
  sample.label = labels_[static_cast<size_t>(index)];
  return sample;
}

int64_t ImageFolderDataset::label(int64_t index) const {
  path(index);  // the range check, naming the dataset
  return labels_[static_cast<size_t>(index)];
}

std::string ImageFolderDataset::describe() const {
  const std::string classes =
      classes_.empty() ? "unlabelled" : std::to_string(classes_.size()) + " classes";
  return "image_folder " + split_ + " (" + std::to_string(size()) + " images, " + classes +
         ", from " + folder_ + ")";
}

}  // namespace pretext
