// The listing of an image folder's split (class folders and their image files), built once and
// cached: re-listing ImageNet's 1.28 million files takes minutes on network storage, checking
// a cached index takes one stat per class folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pretext {

struct ImageFolderIndex {
  std::vector<std::string> classes;  ///< class folder names in label order; empty: unlabelled
  std::vector<std::string> files;    ///< "<class>/<name>" (or "<name>"), relative to the folder
  std::vector<int64_t> labels;       ///< per file; -1 when unlabelled
  bool from_cache = false;           ///< read from the cache rather than listed
};

/// Lists `folder` as ImageFolderDataset documents: sub-folders are classes when there are any
/// (loose files beside them ignored), else the folder's own files are unlabelled images; only
/// .jpg .jpeg .png .bmp .webp (any case); names starting with '.' skipped. Names are sorted
/// bytewise (unsigned byte order, independent of locale), so every machine gets the same order.
///
/// With a non-empty `cache_dir`, the index is stored there (keyed by the folder's absolute
/// path) and reused while the folder and every class folder keep their inode and modification
/// and status-change times (adding, removing or renaming a file or class changes them; a folder
/// re-created in the same instant gets a new inode). A cache that cannot
/// be written or read back is ignored: the folder is listed instead. `layout_hint` ends the
/// messages for an empty folder or class.
ImageFolderIndex index_image_folder(const std::string& folder, const std::string& cache_dir,
                                    const std::string& layout_hint);

/// Where index_image_folder keeps the index of `folder` inside `cache_dir`.
std::string image_folder_index_path(const std::string& folder, const std::string& cache_dir);

/// data.index_cache resolved: "off" -> "" (no cache); "auto" -> $XDG_CACHE_HOME/pretext, else
/// $HOME/.cache/pretext, else "" ; anything else is the folder itself.
std::string resolve_index_cache(const std::string& setting);

}  // namespace pretext
