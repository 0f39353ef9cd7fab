// torch.save ZIP archives, following caffe2/serialize/inline_container.cc (record layout) and
// torch/serialization.py (_save, _load: storages keyed by persistent id, data/<key> records).
#include "models/pt_archive.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "models/binary_file.h"
#include "models/torch_pickle.h"
#include "models/zip_archive.h"

namespace pretext {

std::string encode_pt(const StateDict& state, const std::string& archive_name) {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  TORCH_CHECK(first == 1, "torch.save format: big-endian hosts are not supported");
  ZipEntries entries;
  entries.emplace_back(archive_name + "/data.pkl", pickle_state_dict(state));
  for (size_t i = 0; i < state.size(); ++i) {
    const torch::Tensor tensor = state[i].second.detach().to(torch::kCPU).contiguous();
    entries.emplace_back(archive_name + "/data/" + std::to_string(i),
                         std::string(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes()));
  }
  entries.emplace_back(archive_name + "/version", "3\n");
  entries.emplace_back(archive_name + "/byteorder", "little");
  return encode_zip(entries);
}

StateDict decode_pt(const std::string& bytes, const std::string& origin) {
  if (!looks_like_zip(bytes)) {
    TORCH_CHECK(bytes.empty() || static_cast<unsigned char>(bytes[0]) != 0x80, origin,
                " is in PyTorch's legacy (pre-1.6) torch.save format, which is not read; "
                "re-save it with PyTorch >= 1.6: torch.save(torch.load(old), new)");
    TORCH_CHECK(false, origin, " is not a torch.save ZIP archive (no ZIP signature)");
  }
  std::map<std::string, std::string> records;
  std::string pickle_name;
  for (auto& [name, data] : decode_zip(bytes, origin)) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") pickle_name = name;
    records[name] = std::move(data);
  }
  TORCH_CHECK(!pickle_name.empty(), origin,
              " is a ZIP file without a <name>/data.pkl record: not a torch.save archive");
  const std::string prefix = pickle_name.substr(0, pickle_name.find('/') + 1);
  const auto byteorder = records.find(prefix + "byteorder");
  TORCH_CHECK(byteorder == records.end() || byteorder->second == "little", origin,
              " holds big-endian storages (byteorder '", byteorder->second,
              "'), which are not supported");
  const StorageLoader load = [&](const std::string& key, torch::ScalarType type, int64_t numel) {
    const std::string name = prefix + "data/" + key;
    const auto record = records.find(name);
    TORCH_CHECK(record != records.end(), origin, ": storage record '", name, "' is missing");
    const uint64_t expected = static_cast<uint64_t>(numel) * c10::elementSize(type);
    TORCH_CHECK(record->second.size() == expected, origin, ": storage record '", name, "' has ",
                record->second.size(), " bytes, but ", numel, " elements of ", type, " need ",
                expected);
    torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(type));
    if (expected > 0) std::memcpy(storage.data_ptr(), record->second.data(), expected);
    return storage;
  };
  return unpickle_state_dict(records.at(pickle_name), load, origin);
}

void write_pt(const std::string& path, const StateDict& state) {
  std::string stem = std::filesystem::path(path).stem().string();
  if (stem.empty()) stem = "archive";
  write_binary_file_atomically(path, encode_pt(state, stem));
}

StateDict read_pt(const std::string& path) { return decode_pt(read_binary_file(path), path); }

}  // namespace pretext
