// Tests for train/tensor_file: bit-exact round trips, crash safety of the rename, and clear
// refusals of truncated, corrupted and foreign files.

#include "train/tensor_file.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

class TensorFileTest : public testing::Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    char dir[] = "/tmp/pretext_tensor_file_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// Runs `fn`, expects a c10::Error, and returns its message.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

bool bitwise_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ac = a.contiguous();
  const auto bc = b.contiguous();
  return std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.numel() * ac.element_size()) == 0;
}

TensorFile sample_file() {
  TensorFile file;
  file.metadata["step"] = "1234";
  file.metadata["with spaces and\nnewlines\n"] = "value  with\ttabs\nand lines\n\n";
  file.metadata["unicode \xce\xb1\xce\xb2 \xe2\x9c\x93"] = "\xf0\x9f\x9a\x80 rocket";
  file.metadata["empty"] = "";
  file.metadata[std::string("nul\0byte", 8)] = std::string("a\0b", 3);
  const auto f = torch::randn({3, 5});
  file.tensors = {
      {"float32", f},
      {"float64", torch::randn({2, 2}, torch::kFloat64)},
      {"float16", torch::randn({7}).to(torch::kFloat16)},
      {"bfloat16", torch::randn({2, 3}).to(torch::kBFloat16)},
      {"int64", torch::randint(-1000000000000LL, 1000000000000LL, {4}, torch::kInt64)},
      {"int32", torch::randint(-100000, 100000, {3, 1}, torch::kInt32)},
      {"uint8", torch::randint(0, 256, {9}, torch::kUInt8)},
      {"int8", torch::randint(-128, 128, {2, 2, 2}, torch::kInt8)},
      {"bool", torch::rand({5}) > 0.5},
      {"scalar", torch::tensor(3.5)},
      {"name with spaces\nand a newline", torch::arange(3)},
      {"non-contiguous", f.t()},
      {"zero-element", torch::empty({0, 4})},
      {"nan and inf", torch::tensor({NAN, INFINITY, -INFINITY, -0.0f})},
  };
  return file;
}

TEST_F(TensorFileTest, RoundTripsEveryDtypeAndMetadataBitExact) {
  const TensorFile file = sample_file();
  write_tensor_file(path("a.pt"), file);
  const TensorFile back = read_tensor_file(path("a.pt"));
  EXPECT_EQ(back.metadata, file.metadata);
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].first, file.tensors[i].first);
    EXPECT_TRUE(back.tensors[i].second.is_contiguous());
    EXPECT_TRUE(back.tensors[i].second.device().is_cpu());
    EXPECT_TRUE(bitwise_equal(back.tensors[i].second, file.tensors[i].second))
        << file.tensors[i].first;
  }
  EXPECT_TRUE(back.has("bool"));
  EXPECT_FALSE(back.has("nope"));
  EXPECT_EQ(back.meta("step"), "1234");
  EXPECT_TRUE(torch::equal(back.get("non-contiguous"), file.tensors[0].second.t()));
  EXPECT_FALSE(std::ifstream(path("a.pt.tmp")).good()) << "the temporary file was left behind";
}

TEST_F(TensorFileTest, EmptyFileRoundTrips) {
  write_tensor_file(path("empty"), TensorFile{});
  const TensorFile back = read_tensor_file(path("empty"));
  EXPECT_TRUE(back.metadata.empty());
  EXPECT_TRUE(back.tensors.empty());
}

TEST_F(TensorFileTest, OverwriteReplacesAndStaleTmpIsHarmless) {
  TensorFile first;
  first.metadata["version"] = "1";
  first.tensors = {{"x", torch::ones({2})}};
  write_tensor_file(path("ckpt"), first);
  // A crash in the middle of the next write leaves a torn temporary beside the good file.
  const std::string good = read_bytes(path("ckpt"));
  write_bytes(path("ckpt.tmp"), good.substr(0, good.size() / 2));
  EXPECT_EQ(read_tensor_file(path("ckpt")).meta("version"), "1");
  // The next successful write replaces both.
  first.metadata["version"] = "2";
  write_tensor_file(path("ckpt"), first);
  EXPECT_EQ(read_tensor_file(path("ckpt")).meta("version"), "2");
  EXPECT_FALSE(std::ifstream(path("ckpt.tmp")).good());
}

TEST_F(TensorFileTest, RefusesTruncatedFiles) {
  write_tensor_file(path("full"), sample_file());
  const std::string bytes = read_bytes(path("full"));
  for (const size_t keep :
       {size_t{0}, size_t{5}, size_t{20}, size_t{200}, bytes.size() - 13, bytes.size() - 1}) {
    write_bytes(path("cut"), bytes.substr(0, keep));
    const std::string message = error_of([&] { read_tensor_file(path("cut")); });
    EXPECT_NE(message.find("truncated at byte " + std::to_string(keep)), std::string::npos)
        << "kept " << keep << ": " << message;
    EXPECT_NE(message.find(path("cut")), std::string::npos) << message;
  }
  write_bytes(path("cut"), bytes.substr(0, bytes.size() - 1));
  EXPECT_NE(error_of([&] {
              read_tensor_file(path("cut"));
            }).find("(expected " + std::to_string(bytes.size()) + ")"),
            std::string::npos);
}

TEST_F(TensorFileTest, RefusesFlippedBits) {
  write_tensor_file(path("good"), sample_file());
  const std::string bytes = read_bytes(path("good"));
  // One bit in the tensor data, one in the header, one in the header length field.
  for (const size_t at : {bytes.size() - 20, size_t{30}, size_t{9}}) {
    std::string bad = bytes;
    bad[at] ^= 0x10;
    write_bytes(path("bad"), bad);
    const std::string message = error_of([&] { read_tensor_file(path("bad")); });
    EXPECT_NE(message.find("checksum mismatch"), std::string::npos)
        << "byte " << at << ": " << message;
    EXPECT_NE(message.find(path("bad")), std::string::npos) << message;
  }
}

TEST_F(TensorFileTest, RefusesForeignFilesAndNamesMissingPaths) {
  write_bytes(path("foreign"),
              std::string("PK\x03\x04") + " a zip archive, long enough to pass 28 bytes");
  std::string message = error_of([&] { read_tensor_file(path("foreign")); });
  EXPECT_NE(message.find("not a pretext checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find(path("foreign")), std::string::npos) << message;

  message = error_of([&] { read_tensor_file(path("missing")); });
  EXPECT_NE(message.find(path("missing")), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;

  message = error_of([&] { write_tensor_file(path("no/such/folder/x"), TensorFile{}); });
  EXPECT_NE(message.find(path("no/such/folder/x")), std::string::npos) << message;
}

TEST_F(TensorFileTest, GetAndMetaNameTheMissingKey) {
  const TensorFile file = sample_file();
  EXPECT_NE(error_of([&] { file.get("absent_tensor"); }).find("absent_tensor"), std::string::npos);
  EXPECT_NE(error_of([&] { file.meta("absent_key"); }).find("absent_key"), std::string::npos);
}

TEST_F(TensorFileTest, RejectsDuplicateTensorNames) {
  TensorFile file;
  file.tensors = {{"x", torch::ones({1})}, {"x", torch::ones({1})}};
  EXPECT_NE(error_of([&] { write_tensor_file(path("dup"), file); }).find("duplicate"),
            std::string::npos);
}

}  // namespace
}  // namespace pretext
