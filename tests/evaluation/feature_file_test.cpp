// Feature files: round trip with provenance, and refusal of what is not a complete pretext
// feature file (missing file, truncated, other HDF5, rows and labels that disagree).
#include "evaluation/feature_file.h"

#include <hdf5.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {
namespace fs = std::filesystem;

class FeatureFileTest : public testing::Seeded {
 protected:
  void SetUp() override {
    testing::Seeded::SetUp();
    dir_ = testing::unique_temp_path("pretext_feature_file");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static Features sample_features(int64_t n, int64_t d) {
    return {torch::randn({n, d}), torch::randint(0, 10, {n}, torch::kLong)};
  }
  static FeatureProvenance provenance() {
    return {"runs/x/checkpoints/last.ckpt", "crc32:deadbeef:size:12", "test", "eval_encoder",
            "[train]\nepochs = 3\n",        "data.name=fmnist"};
  }

  fs::path dir_;
};

TEST_F(FeatureFileTest, RoundTripsFeaturesLabelsAndProvenance) {
  const Features written = sample_features(1000, 33);  // several chunks
  write_feature_file(path("f.h5"), written, provenance());
  EXPECT_FALSE(fs::exists(path("f.h5.tmp")));
  const FeatureFile read = read_feature_file(path("f.h5"));
  EXPECT_TRUE(torch::equal(read.features.features, written.features));
  EXPECT_TRUE(torch::equal(read.features.labels, written.labels));
  EXPECT_EQ(read.provenance.checkpoint, provenance().checkpoint);
  EXPECT_EQ(read.provenance.checkpoint_hash, provenance().checkpoint_hash);
  EXPECT_EQ(read.provenance.split, "test");
  EXPECT_EQ(read.provenance.encoder, "eval_encoder");
  EXPECT_EQ(read.provenance.config_text, provenance().config_text);
  EXPECT_EQ(read.provenance.feature_key, "data.name=fmnist");
}

TEST_F(FeatureFileTest, EmptyFeatureSetRoundTrips) {
  write_feature_file(path("empty.h5"), {torch::zeros({0, 4}), torch::zeros({0}, torch::kLong)},
                     provenance());
  const FeatureFile read = read_feature_file(path("empty.h5"));
  EXPECT_EQ(read.features.features.sizes(), torch::IntArrayRef({0, 4}));
}

TEST_F(FeatureFileTest, RefusesMissingTruncatedAndForeignFiles) {
  EXPECT_NE(
      testing::thrown_message([&] { read_feature_file(path("nope.h5")); }).find("does not exist"),
      std::string::npos);

  write_feature_file(path("f.h5"), sample_features(500, 16), provenance());
  const auto size = fs::file_size(path("f.h5"));
  fs::copy_file(path("f.h5"), path("cut.h5"));
  fs::resize_file(path("cut.h5"), size / 2);
  const std::string cut = testing::thrown_message([&] { read_feature_file(path("cut.h5")); });
  EXPECT_NE(cut.find(path("cut.h5")), std::string::npos) << cut;

  std::ofstream(path("text.h5")) << "not hdf5 at all";
  const std::string text = testing::thrown_message([&] { read_feature_file(path("text.h5")); });
  EXPECT_NE(text.find("not an HDF5 file"), std::string::npos) << text;

  // A valid HDF5 file that pretext did not write.
  const hid_t file = H5Fcreate(path("other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(file);
  const std::string other = testing::thrown_message([&] { read_feature_file(path("other.h5")); });
  EXPECT_NE(other.find("attribute 'format' is missing"), std::string::npos) << other;
}

TEST_F(FeatureFileTest, RefusesRowsAndLabelsThatDisagree) {
  write_feature_file(path("f.h5"), sample_features(20, 4), provenance());
  // Replace the labels by a shorter dataset.
  const hid_t file = H5Fopen(path("f.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, "labels", H5P_DEFAULT);
  const hsize_t dims[1] = {19};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t labels =
      H5Dcreate2(file, "labels", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<int64_t> values(19, 1);
  H5Dwrite(labels, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(labels);
  H5Sclose(space);
  H5Fclose(file);
  const std::string message = testing::thrown_message([&] { read_feature_file(path("f.h5")); });
  EXPECT_NE(message.find("20 feature rows but 19 labels"), std::string::npos) << message;
}

TEST_F(FeatureFileTest, CheckpointHashFollowsContent) {
  std::ofstream(path("a.ckpt"), std::ios::binary) << "checkpoint bytes";
  std::ofstream(path("b.ckpt"), std::ios::binary) << "checkpoint bytes";
  std::ofstream(path("c.ckpt"), std::ios::binary) << "checkpoint bytez";
  EXPECT_EQ(checkpoint_file_hash(path("a.ckpt")), checkpoint_file_hash(path("b.ckpt")));
  EXPECT_NE(checkpoint_file_hash(path("a.ckpt")), checkpoint_file_hash(path("c.ckpt")));
  // 64-bit FNV-1a of the bytes, computed independently in Python
  // (h = 0xcbf29ce484222325; for b: h = ((h ^ b) * 0x100000001b3) mod 2^64).
  EXPECT_EQ(checkpoint_file_hash(path("a.ckpt")), "fnv1a64:157344a7b75093cc:size:16");
  // Two files that each end with the CRC-32 of their content, as checkpoints do: their
  // whole-file CRC-32s are equal (the CRC residue), their hashes must not be.
  for (const char* name : {"x.ckpt", "y.ckpt"}) {
    const std::string content = std::string("weights of ") + name;
    uint32_t crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(content.data()), content.size()));
    std::ofstream out(path(name), std::ios::binary);
    out << content;
    for (int i = 0; i < 4; ++i, crc >>= 8) out.put(static_cast<char>(crc & 0xff));
  }
  const auto whole_file_crc = [&](const char* name) {
    std::ifstream in(path(name), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    return crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
  };
  ASSERT_EQ(whole_file_crc("x.ckpt"), whole_file_crc("y.ckpt"));
  EXPECT_NE(checkpoint_file_hash(path("x.ckpt")), checkpoint_file_hash(path("y.ckpt")));
}

}  // namespace
}  // namespace pretext
