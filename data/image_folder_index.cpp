// index_image_folder: listing, the cache file, and its validation by folder modification times.
// Cache format (text, names length-prefixed so any byte may appear in them):
//   pretext-image-folder-index 2
//   <len> <folder>
//   stamps <n>      then n lines: <stamp> <len> <folder name, "" for the split folder>
//   classes <k>     then k lines: <len> <name>
//   files <m>       then m lines: <label> <len> <relative path>
#include "data/image_folder_index.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <torch/torch.h>

namespace pretext {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMagic = "pretext-image-folder-index 2";

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp";
}

struct Listing {
  std::vector<std::string> folders;  // names, sorted
  std::vector<std::string> images;   // names, sorted
};

/// Sub-folders and image files directly inside `folder` (symlinks followed), sorted bytewise:
/// std::string's ordering compares as unsigned char, like memcmp.
Listing list_folder(const fs::path& folder) {
  Listing listing;
  std::error_code error;
  fs::directory_iterator it(folder, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
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

/// A folder's identity and last change: inode, modification and status-change times (ns)
/// mixed into one number. The inode catches a folder deleted and re-created within the
/// timestamp resolution of a coarse file system.
int64_t folder_stamp(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return -1;
  const uint64_t parts[3] = {static_cast<uint64_t>(info.st_mtim.tv_sec) * 1000000000ULL +
                                 static_cast<uint64_t>(info.st_mtim.tv_nsec),
                             static_cast<uint64_t>(info.st_ctim.tv_sec) * 1000000000ULL +
                                 static_cast<uint64_t>(info.st_ctim.tv_nsec),
                             static_cast<uint64_t>(info.st_dev)};
  uint64_t x = static_cast<uint64_t>(info.st_ino);
  for (const uint64_t v : parts) {
    x = (x ^ v) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 29;
  }
  return static_cast<int64_t>(x & 0x7fffffffffffffffULL);
}

/// The stamps that must match for a cached index to stand: the folder, then each class.
std::vector<std::pair<int64_t, std::string>> stamps_of(const fs::path& folder,
                                                       const std::vector<std::string>& classes) {
  std::vector<std::pair<int64_t, std::string>> stamps = {{folder_stamp(folder), ""}};
  for (const std::string& name : classes) stamps.emplace_back(folder_stamp(folder / name), name);
  return stamps;
}

ImageFolderIndex list_index(const fs::path& folder, const std::string& hint) {
  ImageFolderIndex index;
  const Listing top = list_folder(folder);
  if (!top.folders.empty()) {
    index.classes = top.folders;
    for (size_t label = 0; label < index.classes.size(); ++label) {
      const Listing files = list_folder(folder / index.classes[label]);
      TORCH_CHECK(!files.images.empty(), "ImageFolderDataset: class folder '",
                  (folder / index.classes[label]).string(),
                  "' holds no .jpg/.jpeg/.png/.bmp/.webp file (images in deeper folders are not "
                  "searched); ",
                  hint);
      for (const std::string& name : files.images) {
        index.files.push_back(index.classes[label] + "/" + name);
        index.labels.push_back(static_cast<int64_t>(label));
      }
    }
  } else {
    TORCH_CHECK(!top.images.empty(), "ImageFolderDataset: split folder '", folder.string(),
                "' holds no class folder and no .jpg/.jpeg/.png/.bmp/.webp file; ", hint);
    index.files = top.images;
    index.labels.assign(index.files.size(), -1);
  }
  return index;
}

void put(std::ostream& out, const std::string& text) { out << text.size() << ' ' << text << '\n'; }

bool get(std::istream& in, std::string* text) {
  size_t size = 0;
  if (!(in >> size) || in.get() != ' ' || size > (1u << 20)) return false;
  text->resize(size);
  in.read(text->data(), static_cast<std::streamsize>(size));
  return in.good() && in.get() == '\n';
}

bool expect_count(std::istream& in, const char* word, size_t* count) {
  std::string label;
  return static_cast<bool>(in >> label >> *count) && label == word;
}

/// The cached index if it is readable, for this folder, and its stamps still match.
bool read_cache(const std::string& path, const fs::path& folder, ImageFolderIndex* index) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return false;
  std::string cached_folder;
  if (!get(in, &cached_folder) || cached_folder != folder.string()) return false;
  size_t count = 0;
  if (!expect_count(in, "stamps", &count)) return false;
  std::vector<std::pair<int64_t, std::string>> stamps(count);
  for (auto& [time, name] : stamps) {
    if (!(in >> time) || in.get() != ' ' || !get(in, &name)) return false;
  }
  if (!expect_count(in, "classes", &count)) return false;
  index->classes.resize(count);
  for (std::string& name : index->classes) {
    if (!get(in, &name)) return false;
  }
  if (!expect_count(in, "files", &count)) return false;
  index->files.resize(count);
  index->labels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!(in >> index->labels[i]) || in.get() != ' ' || !get(in, &index->files[i])) return false;
    if (index->labels[i] < -1 || index->labels[i] >= static_cast<int64_t>(index->classes.size())) {
      return false;
    }
  }
  return stamps == stamps_of(folder, index->classes);
}

/// Written to a temporary file and renamed, so a reader never sees half an index.
void write_cache(const std::string& path, const fs::path& folder,
                 const std::vector<std::pair<int64_t, std::string>>& stamps,
                 const ImageFolderIndex& index) {
  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  const std::string temporary = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << kMagic << '\n';
    put(out, folder.string());
    out << "stamps " << stamps.size() << '\n';
    for (const auto& [time, name] : stamps) {
      out << time << ' ';
      put(out, name);
    }
    out << "classes " << index.classes.size() << '\n';
    for (const std::string& name : index.classes) put(out, name);
    out << "files " << index.files.size() << '\n';
    for (size_t i = 0; i < index.files.size(); ++i) {
      out << index.labels[i] << ' ';
      put(out, index.files[i]);
    }
    if (!out.good()) {
      out.close();
      fs::remove(temporary, error);
      return;
    }
  }
  fs::rename(temporary, path, error);
  if (error) fs::remove(temporary, error);
}

}  // namespace

std::string image_folder_index_path(const std::string& folder, const std::string& cache_dir) {
  std::error_code error;
  fs::path absolute = fs::absolute(folder, error).lexically_normal();
  // FNV-1a of the absolute path names the file; the path inside guards against collisions.
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : absolute.string()) hash = (hash ^ c) * 0x100000001b3ULL;
  std::ostringstream name;
  name << "image_folder_" << std::hex << hash << ".index";
  return (fs::path(cache_dir) / name.str()).string();
}

ImageFolderIndex index_image_folder(const std::string& folder_text, const std::string& cache_dir,
                                    const std::string& layout_hint) {
  std::error_code error;
  const fs::path folder = fs::absolute(folder_text, error).lexically_normal();
  if (cache_dir.empty()) return list_index(folder, layout_hint);
  const std::string path = image_folder_index_path(folder.string(), cache_dir);
  ImageFolderIndex cached;
  if (read_cache(path, folder, &cached)) {
    cached.from_cache = true;
    return cached;
  }
  // Stamps before listing: a change during the listing then invalidates the index next time.
  const auto before = stamps_of(folder, list_folder(folder).folders);
  ImageFolderIndex index = list_index(folder, layout_hint);
  std::vector<std::string> stamped;
  for (size_t i = 1; i < before.size(); ++i) stamped.push_back(before[i].second);
  if (stamped == index.classes) write_cache(path, folder, before, index);
  return index;
}

std::string resolve_index_cache(const std::string& setting) {
  if (setting == "off" || setting.empty()) return "";
  if (setting != "auto") return setting;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return (fs::path(xdg) / "pretext").string();
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return (fs::path(home) / ".cache" / "pretext").string();
  }
  return "";
}

}  // namespace pretext
