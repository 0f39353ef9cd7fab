// A folder of JPEG/PNG/BMP/WebP files laid out as torchvision.datasets.ImageFolder expects:
// <root>/<split>/<class_name>/<image>, split "train" or "test" ("val" stands in for a missing
// "test", as ImageNet ships train/ and val/). Labels are class indices in sorted folder-name
// order; images are decoded with OpenCV to uint8 RGB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_decode.h"

namespace pretext {

/// Images of <root>/<split>/<class>/ with label = index of <class> among the sorted class
/// folders; within a class, files are sorted by name (bytewise, the same on every machine). Only
/// files whose extension is .jpg, .jpeg, .png, .bmp or .webp (any case) count; other files, entries
/// starting with '.', and nested folders below a class folder are ignored. A split folder holding
/// images but no class folders is read as unlabelled (label -1, num_classes 0).
///
/// limit > 0 keeps the first `limit` images in that sorted order, so a small limit covers only
/// the first classes; num_classes still counts every class folder found.
///
/// Files are listed once in the constructor and decoded in get(), which is thread-safe. Every
/// image is 3-channel: grayscale is replicated, alpha dropped, 16-bit scaled to 8-bit. The
/// extension only selects which files are listed: the format is read from the content.
class ImageFolderDataset final : public Dataset {
 public:
  /// Throws, naming the path and the expected layout, when root or the split folder is missing,
  /// or when the split folder or a class folder holds no image.
  /// index_cache: folder keeping the listing between runs (see index_image_folder), "" = list
  /// every time.
  ImageFolderDataset(const std::string& root, const std::string& split, int64_t limit = 0,
                     DecodeOptions decode = {}, const std::string& index_cache = "");

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  int64_t channels() const override { return 3; }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  /// HxWx3 uint8 RGB; throws UnreadableSample, naming the file and the reason, when it cannot
  /// be read or decoded (see decode_image).
  Sample get(int64_t index) const override;
  /// Decodes a large JPEG at reduced size when `needs` allows it.
  Sample get_for_views(int64_t index, const ViewNeeds& needs) const override;
  std::string describe() const override;
  std::string source(int64_t index) const override { return path(index); }
  int64_t label(int64_t index) const override;

  /// Class folder names in label order; empty when unlabelled.
  const std::vector<std::string>& classes() const { return classes_; }
  /// Path of image `index`.
  const std::string& path(int64_t index) const;
  /// The split folder actually read, e.g. <root>/val for split "test".
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  std::string split_;
  DecodeOptions decode_;
  std::vector<std::string> classes_;
  std::vector<std::string> paths_;
  std::vector<int64_t> labels_;
};

}  // namespace pretext
