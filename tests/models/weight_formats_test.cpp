// Weight files: safetensors and torch.save archives round-trip, match files written by Python
// (torch.save, the safetensors package, and a writer built from the format's spec), are read
// back by Python (torch.load(weights_only=True), the safetensors package, and an independent
// parser of the spec's layout), and
// refuse every kind of malformed or malicious input with a message naming the problem.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "models/pt_archive.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/torch_pickle.h"
#include "models/zip_archive.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::thrown_message;

fs::path scratch(const std::string& name) {
  const auto dir = fs::path(PRETEXT_BINARY_DIR) / "test_runs" / "weight_formats" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// One tensor of every dtype both formats name, with values that expose byte-order mistakes.
StateDict sample_state() {
  StateDict state;
  state.emplace_back("conv.weight", torch::arange(24, torch::kFloat32).reshape({2, 3, 2, 2}) / 7);
  state.emplace_back("bn.num_batches_tracked",
                     torch::full({}, int64_t{123456789012}, torch::kInt64));
  state.emplace_back("f64", torch::linspace(-1.5, 2.5, 5, torch::kFloat64));
  state.emplace_back("f16", torch::tensor({0.5, -2.0, 65504.0}).to(torch::kFloat16));
  state.emplace_back("bf16", torch::tensor({1.0, -3.5}).to(torch::kBFloat16));
  state.emplace_back("i32", torch::tensor({-7, 70000}, torch::kInt32));
  state.emplace_back("i16", torch::tensor({-300, 300}, torch::kInt16));
  state.emplace_back("i8", torch::tensor({-5, 5}, torch::kInt8));
  state.emplace_back("u8", torch::tensor({0, 255}, torch::kUInt8));
  state.emplace_back("mask", torch::tensor({true, false, true}));
  state.emplace_back("empty", torch::zeros({0, 4}));
  // A non-contiguous view (channels-last weights) must be saved in the standard layout.
  state.emplace_back("transposed", torch::arange(6, torch::kFloat32).reshape({2, 3}).t());
  return state;
}

void expect_same(const StateDict& actual, const StateDict& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first);
    EXPECT_EQ(actual[i].second.scalar_type(), expected[i].second.scalar_type()) << actual[i].first;
    EXPECT_EQ(actual[i].second.sizes(), expected[i].second.sizes()) << actual[i].first;
    EXPECT_TRUE(torch::equal(actual[i].second, expected[i].second)) << actual[i].first;
  }
}

TEST(SafetensorsTest, RoundTripsEveryDtypeAndMetadata) {
  const StateDict state = sample_state();
  const std::string bytes = encode_safetensors(state, {{"format", "pt"}, {"quote", "a\"b\n"}});
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ((8 + header) % 8, 0u) << "data should start 8-byte aligned";
  const SafetensorsContents read = decode_safetensors(bytes, "mem");
  expect_same(read.tensors, state);
  EXPECT_EQ(read.metadata.at("format"), "pt");
  EXPECT_EQ(read.metadata.at("quote"), "a\"b\n");
}

/// A hand-built file: header text as given, then `data_bytes` zero bytes.
std::string file_with_header(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t size = header.size();
  std::memcpy(out.data(), &size, 8);
  return out + header + std::string(data_bytes, '\0');
}

TEST(SafetensorsTest, RefusesEachKindOfMalformedFile) {
  const auto refused = [](const std::string& bytes) {
    return thrown_message([&] { decode_safetensors(bytes, "bad.safetensors"); });
  };
  EXPECT_NE(refused("abc").find("too short"), std::string::npos);
  std::string huge(16, '\0');
  huge[5] = 1;  // 2^40-byte header
  EXPECT_NE(refused(huge).find("exceeds the format's limit"), std::string::npos);
  std::string past_end = file_with_header("{}", 0);
  past_end[0] = 40;
  EXPECT_NE(refused(past_end).find("runs past the end"), std::string::npos);
  EXPECT_NE(refused(file_with_header("[1, 2]", 0)).find("must be a JSON object"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header("{\"a\": {\"dtype\": \"F32\",", 0)).find("at byte"),
            std::string::npos);
  const std::string f32 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";
  EXPECT_NE(refused(file_with_header(f32 + "[0,8]}}", 4)).find("run past the 4-byte data buffer"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(f32 + "[0,12]}}", 12)).find("needs 8 bytes"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(
                        "{\"a\":{\"dtype\":\"F8_E9\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1))
                .find("unknown dtype 'F8_E9'"),
            std::string::npos);
  const std::string two = f32 + "[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";
  EXPECT_NE(refused(file_with_header(two + "[4,12]}}", 12)).find("overlaps tensor 'a'"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(two + "[12,20]}}", 20)).find("belong to no tensor"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(f32 + "[0,8]}}", 16)).find("cover 8 of the 16 data bytes"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(f32 + "[0,8]}}", 16)).find("bad.safetensors"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(f32 + "[8,0]}}", 8)).find("end before they begin"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8))
                .find("non-negative integer"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header("{\"__metadata__\":{\"k\":1}}", 0)).find("must be a string"),
            std::string::npos);
  EXPECT_NE(refused(file_with_header("{\"a\":1,\"a\":2}", 0)).find("duplicate key"),
            std::string::npos);
}

TEST(SafetensorsTest, WriterRefusesDuplicateNamesAndKeepsTheOldFile) {
  const auto dir = scratch("keep_old");
  const std::string path = (dir / "w.safetensors").string();
  write_safetensors(path, {{"a", torch::ones({2})}});
  const std::string message = thrown_message([&] {
    write_safetensors(path, {{"a", torch::ones({2})}, {"a", torch::zeros({2})}});
  });
  EXPECT_NE(message.find("'a' appears twice"), std::string::npos) << message;
  EXPECT_TRUE(torch::equal(read_safetensors(path).tensors.at(0).second, torch::ones({2})));
}

TEST(PtArchiveTest, RoundTripsEveryDtype) {
  const StateDict state = sample_state();
  expect_same(decode_pt(encode_pt(state), "mem.pt"), state);
}

TEST(PtArchiveTest, ZipDataIsSixtyFourByteAligned) {
  const std::string bytes = encode_zip({{"x/data.pkl", "abc"}, {"x/data/0", std::string(5, 'q')}});
  const ZipEntries entries = decode_zip(bytes, "mem");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].second, std::string(5, 'q'));
  EXPECT_EQ(bytes.find("qqqqq") % 64, 0u);
}

/// A torch.save-shaped archive around a hand-written pickle.
std::string archive_with_pickle(const std::string& pickle) {
  return encode_zip({{"a/data.pkl", pickle}, {"a/version", "3\n"}});
}

TEST(PtArchiveTest, RefusesPicklesThatCallCodeOrHoldOtherObjects) {
  const auto refused = [](const std::string& pickle) {
    return thrown_message([&] { decode_pt(archive_with_pickle(pickle), "evil.pt"); });
  };
  // What pickle.dumps emits for an object whose __reduce__ returns (os.system, ("echo hi",)).
  const std::string system_call =
      std::string("\x80\x02") + "cposix\nsystem\n" + "X\x07\0\0\0" + "echo hi" + "\x85R.";
  const std::string message = refused(system_call);
  EXPECT_NE(message.find("refusing global 'posix.system'"), std::string::npos) << message;
  EXPECT_NE(message.find("evil.pt"), std::string::npos) << message;
  // {"epoch": 5}
  EXPECT_NE(refused(std::string("\x80\x02}(X\x05\0\0\0", 9) + "epochK\x05u.")
                .find("entry 'epoch' holds an int (5), not a tensor"),
            std::string::npos);
  // A list at the top.
  EXPECT_NE(refused(std::string("\x80\x02].")).find("not a dict of tensors"), std::string::npos);
  // INST (protocol 0 object creation) and anything else unknown is refused as an opcode.
  EXPECT_NE(refused(std::string("\x80\x02iposix\nsystem\n.")).find("opcode 0x69"),
            std::string::npos);
  // Truncated pickles, and storages the archive lacks.
  EXPECT_NE(refused(std::string("\x80\x02X\xff\0\0\0ab", 9)).find("truncated"), std::string::npos);
  StateDict one = {{"w", torch::ones({3})}};
  std::string missing_storage = archive_with_pickle(pickle_state_dict(one));
  EXPECT_NE(thrown_message([&] {
              decode_pt(missing_storage, "x.pt");
            }).find("storage record 'a/data/0' is missing"),
            std::string::npos);
}

TEST(PtArchiveTest, RefusesStoragesOfTheWrongSizeAndViewsReachingPastThem) {
  const std::string pickle = pickle_state_dict({{"w", torch::ones({3})}});
  // The archive's storage record is shorter than the pickle says.
  const std::string short_record =
      encode_zip({{"a/data.pkl", pickle}, {"a/data/0", std::string(8, '\0')}});
  std::string message = thrown_message([&] { decode_pt(short_record, "short.pt"); });
  EXPECT_NE(message.find("has 8 bytes, but 3 elements"), std::string::npos) << message;
  // A consistent 2-element storage, but a [3] view of it.
  std::string two = pickle;
  const auto numel = two.find("K\x03tQ");
  ASSERT_NE(numel, std::string::npos);
  two[numel + 1] = 2;
  const std::string view = encode_zip({{"a/data.pkl", two}, {"a/data/0", std::string(8, '\0')}});
  message = thrown_message([&] { decode_pt(view, "view.pt"); });
  EXPECT_NE(message.find("reaches past its storage of 2 elements"), std::string::npos) << message;
}

TEST(PtArchiveTest, RefusesTheLegacyFormatAndNonArchives) {
  EXPECT_NE(thrown_message([] {
              decode_pt(std::string("\x80\x02\x8a\x0a", 4), "old.pt");
            }).find("legacy (pre-1.6)"),
            std::string::npos);
  EXPECT_NE(thrown_message([] { decode_pt("hello", "text.pt"); }).find("not a torch.save"),
            std::string::npos);
}

// ---- Cross-checks with Python -----------------------------------------------------------------

/// Python that rebuilds sample_state() with torch, to compare against what it reads.
const char* kPythonSampleState = R"(
import json, struct, collections, torch
def sample_state():
    s = collections.OrderedDict()
    s['conv.weight'] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 7
    s['bn.num_batches_tracked'] = torch.tensor(123456789012)
    s['f64'] = torch.linspace(-1.5, 2.5, 5, dtype=torch.float64)
    s['f16'] = torch.tensor([0.5, -2.0, 65504.0]).half()
    s['bf16'] = torch.tensor([1.0, -3.5]).bfloat16()
    s['i32'] = torch.tensor([-7, 70000], dtype=torch.int32)
    s['i16'] = torch.tensor([-300, 300], dtype=torch.int16)
    s['i8'] = torch.tensor([-5, 5], dtype=torch.int8)
    s['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
    s['mask'] = torch.tensor([True, False, True])
    s['empty'] = torch.zeros(0, 4)
    s['transposed'] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    return s
def same(actual, expected):
    assert list(actual) == list(expected), (list(actual), list(expected))
    for k in expected:
        a, e = actual[k], expected[k]
        assert a.dtype == e.dtype and a.shape == e.shape and torch.equal(a, e), (k, a, e)
DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16,
          'BF16': torch.bfloat16, 'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16,
          'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
)";

TEST(WeightFormatsPythonTest, PythonReadsWhatPretextWrites) {
  const auto dir = scratch("python_reads");
  write_pt((dir / "state.pt").string(), sample_state());
  write_safetensors((dir / "state.safetensors").string(), sample_state(), {{"format", "pt"}});
  const auto python = testing::run_python(dir, std::string(kPythonSampleState) + R"(
same(torch.load('state.pt', weights_only=True), sample_state())
# The safetensors package (it lists names sorted, so compare as a mapping).
import safetensors, safetensors.torch
loaded = safetensors.torch.load_file('state.safetensors')
expected = sample_state()
assert sorted(loaded) == sorted(expected), (sorted(loaded), sorted(expected))
same(collections.OrderedDict((k, loaded[k]) for k in expected), expected)
with safetensors.safe_open('state.safetensors', framework='pt') as f:
    assert f.metadata() == {'format': 'pt'}, f.metadata()
# safetensors parsed from the spec alone: u64 LE length, JSON header, packed data.
raw = open('state.safetensors', 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
assert header.pop('__metadata__') == {'format': 'pt'}
data = raw[8 + n:]
spans = sorted(tuple(v['data_offsets']) for v in header.values())
assert spans[0][0] == 0 and spans[-1][1] == len(data), spans
assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), spans
read = collections.OrderedDict()
for name, info in header.items():
    begin, end = info['data_offsets']
    dtype = DTYPES[info['dtype']]
    t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
    read[name] = t.reshape(info['shape'])
same(read, sample_state())
print('ok')
)");
  EXPECT_EQ(python.exit_code, 0) << python.output;
}

TEST(WeightFormatsPythonTest, PretextReadsWhatPythonWrites) {
  const auto dir = scratch("pretext_reads");
  const auto python = testing::run_python(dir, std::string(kPythonSampleState) + R"(
s = sample_state()
torch.save(s, 'state.pt')
torch.save({'outer': s}, 'nested.pt')
# A module's state_dict carries _metadata (pickled through BUILD) and shared storages.
m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
sd = m.state_dict()
sd['view'] = sd['0.weight'][1]
torch.save(sd, 'module.pt')
torch.save({'w': torch.ones(2), 'epoch': 3}, 'epoch.pt')
class Evil:
    def __reduce__(self):
        import os
        return (os.system, ('echo pwned',))
torch.save({'w': Evil()}, 'evil.pt')
import safetensors.torch
safetensors.torch.save_file({k: v.contiguous() for k, v in s.items()}, 'package.safetensors',
                            metadata={'written_by': 'safetensors'})
# safetensors written from the spec: name order reversed.
names = list(s)[::-1]
header, blobs, offset = {'__metadata__': {'k': 'v'}}, [], 0
inv = {v: k for k, v in DTYPES.items()}
for name in names:
    t = s[name].contiguous()
    b = t.reshape(-1).view(torch.uint8).numpy().tobytes()
    header[name] = {'dtype': inv[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
h = json.dumps(header).encode()
open('state.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
print('ok')
)");
  ASSERT_EQ(python.exit_code, 0) << python.output;
  const StateDict expected = sample_state();
  expect_same(read_pt((dir / "state.pt").string()), expected);
  const StateDict nested = read_pt((dir / "nested.pt").string());
  ASSERT_EQ(nested.size(), expected.size());
  EXPECT_EQ(nested[0].first, "outer.conv.weight");
  const StateDict module = read_pt((dir / "module.pt").string());
  ASSERT_EQ(module.size(), 8u);  // conv weight, bias; bn weight, bias, mean, var, count; view
  EXPECT_EQ(module[6].first, "1.num_batches_tracked");
  EXPECT_TRUE(torch::equal(module[7].second, module[0].second[1]));
  EXPECT_NE(thrown_message([&] {
              read_pt((dir / "epoch.pt").string());
            }).find("entry 'epoch' holds an int (3), not a tensor"),
            std::string::npos);
  const std::string evil = thrown_message([&] { read_pt((dir / "evil.pt").string()); });
  EXPECT_NE(evil.find("refusing global 'posix.system'"), std::string::npos) << evil;

  const SafetensorsContents st = read_safetensors((dir / "state.safetensors").string());
  EXPECT_EQ(st.metadata.at("k"), "v");
  StateDict reversed(expected.rbegin(), expected.rend());
  expect_same(st.tensors, reversed);

  // The package lays tensors out in an order of its own (by dtype alignment): compare by name.
  const SafetensorsContents package = read_safetensors((dir / "package.safetensors").string());
  EXPECT_EQ(package.metadata.at("written_by"), "safetensors");
  const auto by_name = [](StateDict state) {
    std::sort(state.begin(), state.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return state;
  };
  expect_same(by_name(package.tensors), by_name(expected));
}

}  // namespace
}  // namespace pretext
