// The cached image-folder index: the same listing as a fresh one, reused while nothing changed,
// rebuilt when a file or class is added, removed or renamed, or when the cache is damaged;
// names in bytewise order (checked against a memcmp sort written here).
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_folder.h"
#include "data/image_folder_index.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;

class ImageFolderIndexTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = fs::temp_directory_path() /
           ("pretext_index_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cache");
    cache_ = (dir_ / "cache").string();
    folder_ = (dir_ / "data" / "train").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void touch(const std::string& relative) {
    const fs::path file = fs::path(folder_) / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << "x";
  }

  ImageFolderIndex index() const { return index_image_folder(folder_, cache_, "hint"); }
  ImageFolderIndex fresh() const { return index_image_folder(folder_, "", "hint"); }

  static void expect_same(const ImageFolderIndex& a, const ImageFolderIndex& b) {
    EXPECT_EQ(a.classes, b.classes);
    EXPECT_EQ(a.files, b.files);
    EXPECT_EQ(a.labels, b.labels);
  }

  fs::path dir_;
  std::string cache_;
  std::string folder_;
};

TEST_F(ImageFolderIndexTest, ReusedUntilTheFolderChanges) {
  for (const std::string name :
       {"cat/1.jpg", "cat/2.png", "dog/a.jpeg", "dog/b.JPG", "eel/x.webp"}) {
    touch(name);
  }
  const ImageFolderIndex first = index();
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(fs::exists(image_folder_index_path(folder_, cache_)));
  const ImageFolderIndex second = index();
  EXPECT_TRUE(second.from_cache);
  expect_same(first, second);
  expect_same(second, fresh());

  // A file's content changing leaves the listing alone.
  std::ofstream(fs::path(folder_) / "cat/1.jpg") << "new content";
  EXPECT_TRUE(index().from_cache);

  touch("dog/c.png");  // a new file
  ImageFolderIndex changed = index();
  EXPECT_FALSE(changed.from_cache);
  expect_same(changed, fresh());
  EXPECT_NE(std::find(changed.files.begin(), changed.files.end(), "dog/c.png"),
            changed.files.end());
  EXPECT_TRUE(index().from_cache);

  fs::rename(fs::path(folder_) / "eel/x.webp", fs::path(folder_) / "eel/y.webp");  // a rename
  changed = index();
  EXPECT_FALSE(changed.from_cache);
  EXPECT_EQ(changed.files.back(), "eel/y.webp");

  fs::remove_all(fs::path(folder_) / "dog");  // a class removed
  changed = index();
  EXPECT_FALSE(changed.from_cache);
  EXPECT_EQ(changed.classes, std::vector<std::string>({"cat", "eel"}));
  EXPECT_EQ(changed.labels.back(), 1);
}

TEST_F(ImageFolderIndexTest, DamagedCacheIsRebuilt) {
  touch("a/1.png");
  touch("b/2.png");
  index();
  const std::string path = image_folder_index_path(folder_, cache_);
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (const size_t cut : {size_t{0}, size_t{10}, text.size() / 2, text.size() - 3}) {
    std::ofstream(path, std::ios::trunc) << text.substr(0, cut);
    const ImageFolderIndex rebuilt = index();
    EXPECT_FALSE(rebuilt.from_cache) << cut;
    expect_same(rebuilt, fresh());
    EXPECT_TRUE(index().from_cache) << cut;
  }
}

TEST_F(ImageFolderIndexTest, NamesSortBytewiseAndDatasetUsesTheCache) {
  // Upper case, lower case, digits, punctuation and UTF-8 multi-byte names.
  std::vector<std::string> names = {"b.png", "B.png", "a.png",
                                    "_.png", "0.png", "\xc3\xa9t\xc3\xa9.png",
                                    "Z.png", "~.png", "\xe2\x82\xac.png"};
  for (const std::string& name : names) touch("only/" + name);
  std::sort(names.begin(), names.end(), [](const std::string& x, const std::string& y) {
    const int c = std::memcmp(x.data(), y.data(), std::min(x.size(), y.size()));
    return c != 0 ? c < 0 : x.size() < y.size();
  });
  const ImageFolderIndex listed = fresh();
  ASSERT_EQ(listed.files.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(listed.files[i], "only/" + names[i]);

  const DatasetOptions options =
      DatasetOptions().name("image_folder").root((dir_ / "data").string()).index_cache(cache_);
  const auto first = open_dataset(options, "train");
  EXPECT_TRUE(fs::exists(image_folder_index_path(folder_, cache_)));
  const auto second = open_dataset(options, "train");
  ASSERT_EQ(first->size(), second->size());
  for (int64_t i = 0; i < first->size(); ++i) EXPECT_EQ(first->source(i), second->source(i));
  EXPECT_EQ(second->source(0), (fs::path(folder_) / "only" / names[0]).string());

  EXPECT_EQ(resolve_index_cache("off"), "");
  EXPECT_EQ(resolve_index_cache("/some/where"), "/some/where");
  EXPECT_NE(resolve_index_cache("auto").find("pretext"), std::string::npos);
}

}  // namespace
}  // namespace pretext
