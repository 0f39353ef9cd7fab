// ImageFolderDataset: lists <root>/<split>/<class>/<image> once, decodes one file per get().
// Reference: torchvision.datasets.ImageFolder (find_classes, make_dataset) and its PIL loader
// (Image.open(path).convert("RGB")).
// Deviations: only .jpg .jpeg .png .bmp .webp; no recursion below class folders; entries whose
// name starts with '.' are skipped; "val" stands in for a missing "test"; a split folder without
// class folders is read as unlabelled instead of refused; OpenCV applies the EXIF orientation,
// which the PIL loader ignores.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace pretext {

namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp";
}

bool is_folder(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

struct Listing {
  std::vector<std::string> folders;  // names, sorted
  std::vector<std::string> images;   // names, sorted
};

/// Sub-folders and image files directly inside `folder` (symlinks followed), sorted by name.
Listing list_folder(const fs::path& folder) {
  Listing listing;
  std::error_code error;
  fs::directory_iterator it(folder, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') {
      continue;
    }
    std::error_code kind_error;
    if (it->is_directory(kind_error)) {
      listing.folders.push_back(name);
    } else if (it->is_regular_file(kind_error) && is_image_file(it->path())) {
      listing.images.push_back(name);
    }
  }
  TORCH_CHECK(!error, "ImageFolderDataset: cannot list '", folder.string(), "': ", error.message(),
              " (check that the folder is readable)");
  std::sort(listing.folders.begin(), listing.folders.end());
  std::sort(listing.images.begin(), listing.images.end());
  return listing;
}

}  // namespace

ImageFolderDataset::ImageFolderDataset(const std::string& root, const std::string& split,
                                       int64_t limit, DecodeOptions decode)
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

  const Listing top = list_folder(folder);
  if (!top.folders.empty()) {
    // Loose files next to class folders are ignored, as torchvision does.
    classes_ = top.folders;
    for (size_t label = 0; label < classes_.size(); ++label) {
      const fs::path class_folder = folder / classes_[label];
      const Listing files = list_folder(class_folder);
      TORCH_CHECK(!files.images.empty(), "ImageFolderDataset: class folder '",
                  class_folder.string(),
                  "' holds no .jpg/.jpeg/.png/.bmp/.webp file (images in deeper folders are not "
                  "searched); ",
                  expected);
      for (const std::string& name : files.images) {
        paths_.push_back((class_folder / name).string());
        labels_.push_back(static_cast<int64_t>(label));
      }
    }
  } else {
    TORCH_CHECK(!top.images.empty(), "ImageFolderDataset: split folder '", folder_,
                "' holds no class folder and no .jpg/.jpeg/.png/.bmp/.webp file; ", expected);
    paths_.reserve(top.images.size());
    for (const std::string& name : top.images) {
      paths_.push_back((folder / name).string());
    }
    labels_.assign(paths_.size(), -1);
  }
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

std::string ImageFolderDataset::describe() const {
  const std::string classes =
      classes_.empty() ? "unlabelled" : std::to_string(classes_.size()) + " classes";
  return "image_folder " + split_ + " (" + std::to_string(size()) + " images, " + classes +
         ", from " + folder_ + ")";
}

}  // namespace pretext
