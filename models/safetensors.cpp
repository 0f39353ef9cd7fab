// safetensors encoder and validating decoder, following the format description and the checks of
// the reference Rust crate (safetensors/src/tensor.rs: validate, InvalidOffset, MisalignedSlice,
// TensorInvalidInfo, HeaderTooLarge).
#include "models/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "models/binary_file.h"
#include "models/json_value.h"

namespace pretext {
namespace {

/// The reference implementation's limit; larger headers are refused as malformed.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

std::string dtype_name(torch::ScalarType type, const std::string& tensor) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  TORCH_CHECK(false, "safetensors: tensor '", tensor, "' has dtype ", type,
              ", which the format has no name for");
  return "";
}

std::string known_dtypes() {
  std::string names;
  for (const auto& d : kDtypes) names += (names.empty() ? "" : " ") + std::string(d.name);
  return names;
}

void check_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  TORCH_CHECK(first == 1, "safetensors: big-endian hosts are not supported");
}

void put_u64_le(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

uint64_t get_u64_le(const std::string& bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

Entry parse_entry(const std::string& name, const JsonValue& info, uint64_t data_size,
                  const std::string& origin) {
  const std::string where = origin + ": tensor '" + name + "'";
  TORCH_CHECK(info.is_object(), where, ": expected an object, got ", info.kind_name());
  const JsonValue* dtype = info.find("dtype");
  const JsonValue* shape = info.find("shape");
  const JsonValue* offsets = info.find("data_offsets");
  TORCH_CHECK(dtype && shape && offsets, where,
              ": needs \"dtype\", \"shape\" and \"data_offsets\"");
  TORCH_CHECK(dtype->is_string(), where, ": dtype must be a string, got ", dtype->kind_name());
  Entry entry;
  entry.name = name;
  const auto known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                  [&](const DtypeName& d) { return dtype->text == d.name; });
  TORCH_CHECK(known != std::end(kDtypes), where, ": unknown dtype '", dtype->text,
              "'; known: ", known_dtypes());
  entry.type = known->type;
  TORCH_CHECK(shape->is_array(), where, ": shape must be an array, got ", shape->kind_name());
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& dim : shape->items) {
    const uint64_t d = dim.as_index(where + ": shape entry");
    TORCH_CHECK(d <= static_cast<uint64_t>(INT64_MAX), where, ": shape entry ", d, " too large");
    overflow = overflow || (d != 0 && numel > UINT64_MAX / d);
    numel *= d;
    entry.shape.push_back(static_cast<int64_t>(d));
  }
  TORCH_CHECK(offsets->is_array() && offsets->items.size() == 2, where,
              ": data_offsets must be [begin, end]");
  entry.begin = offsets->items[0].as_index(where + ": data_offsets begin");
  entry.end = offsets->items[1].as_index(where + ": data_offsets end");
  TORCH_CHECK(entry.begin <= entry.end, where, ": data_offsets [", entry.begin, ", ", entry.end,
              "] end before they begin");
  TORCH_CHECK(entry.end <= data_size, where, ": data_offsets [", entry.begin, ", ", entry.end,
              "] run past the ", data_size, "-byte data buffer (truncated file?)");
  const uint64_t item_size = c10::elementSize(entry.type);
  TORCH_CHECK(
      !overflow && numel <= UINT64_MAX / item_size && numel * item_size == entry.end - entry.begin,
      where, ": shape ", torch::IntArrayRef(entry.shape), " of ", dtype->text, " needs ",
      overflow ? std::string("more than 2^64") : std::to_string(numel * item_size),
      " bytes but data_offsets [", entry.begin, ", ", entry.end, "] hold ",
      entry.end - entry.begin);
  return entry;
}

}  // namespace

std::string encode_safetensors(const StateDict& tensors,
                               const std::map<std::string, std::string>& metadata) {
  check_little_endian();
  std::set<std::string> names;
  std::vector<torch::Tensor> contiguous;
  std::ostringstream header;
  header << "{";
  bool first = true;
  if (!metadata.empty()) {
    header << "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      header << (first ? "" : ",") << json_string_literal(key) << ":" << json_string_literal(value);
      first = false;
    }
    header << "}";
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    TORCH_CHECK(name != "__metadata__", "safetensors: '__metadata__' is reserved");
    TORCH_CHECK(names.insert(name).second, "safetensors: tensor name '", name, "' appears twice");
    TORCH_CHECK(tensor.defined(), "safetensors: tensor '", name, "' is undefined");
    const std::string dtype = dtype_name(tensor.scalar_type(), name);
    contiguous.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const uint64_t size = contiguous.back().nbytes();
    header << (metadata.empty() && contiguous.size() == 1 ? "" : ",") << json_string_literal(name)
           << ":{\"dtype\":\"" << dtype << "\",\"shape\":[";
    for (int64_t d = 0; d < tensor.dim(); ++d) header << (d ? "," : "") << tensor.size(d);
    header << "],\"data_offsets\":[" << offset << "," << offset + size << "]}";
    offset += size;
  }
  header << "}";
  std::string header_text = header.str();
  // Spaces pad the header so the data starts 8-byte aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + header_text.size() + offset);
  put_u64_le(out, header_text.size());
  out += header_text;
  for (const auto& tensor : contiguous) {
    out.append(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes());
  }
  return out;
}

SafetensorsContents decode_safetensors(const std::string& bytes, const std::string& origin) {
  check_little_endian();
  TORCH_CHECK(bytes.size() >= 8, origin, ": ", bytes.size(),
              " bytes is too short for a safetensors file (it starts with an 8-byte header "
              "length)");
  const uint64_t header_size = get_u64_le(bytes);
  TORCH_CHECK(header_size <= kMaxHeaderBytes, origin, ": header length ", header_size,
              " exceeds the format's limit of ", kMaxHeaderBytes,
              " bytes (not a safetensors file?)");
  TORCH_CHECK(header_size <= bytes.size() - 8, origin, ": header length ", header_size,
              " runs past the end of the ", bytes.size(), "-byte file (truncated?)");
  const std::string header_text = bytes.substr(8, header_size);
  TORCH_CHECK(!header_text.empty() && header_text[0] == '{', origin,
              ": header must be a JSON object starting with '{' (not a safetensors file?)");
  const JsonValue header = parse_json(header_text, origin + " header");
  TORCH_CHECK(header.is_object(), origin, ": header must be a JSON object, got ",
              header.kind_name());

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = bytes.size() - data_start;
  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.members) {
    if (name == "__metadata__") {
      TORCH_CHECK(info.is_object(), origin, ": __metadata__ must be an object of strings, got ",
                  info.kind_name());
      for (const auto& [key, value] : info.members) {
        TORCH_CHECK(value.is_string(), origin, ": __metadata__ '", key, "' must be a string, got ",
                    value.kind_name());
        contents.metadata[key] = value.text;
      }
      continue;
    }
    entries.push_back(parse_entry(name, info, data_size, origin));
  }

  // The byte ranges must tile the data buffer exactly: no overlap, no gap, nothing left over.
  std::vector<const Entry*> by_offset;
  for (const auto& entry : entries) by_offset.push_back(&entry);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* entry : by_offset) {
    TORCH_CHECK(entry->begin >= covered, origin, ": tensor '", entry->name, "' [", entry->begin,
                ", ", entry->end, ") overlaps tensor '", previous ? previous->name : "", "' [",
                previous ? previous->begin : 0, ", ", covered, ")");
    TORCH_CHECK(entry->begin == covered, origin, ": bytes [", covered, ", ", entry->begin,
                ") of the data buffer belong to no tensor (gap before '", entry->name, "')");
    covered = entry->end;
    previous = entry;
  }
  TORCH_CHECK(covered == data_size, origin, ": the tensors cover ", covered, " of the ", data_size,
              " data bytes; the rest belongs to no tensor");

  for (const auto& entry : entries) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.type));
    if (entry.end > entry.begin) {
      std::memcpy(tensor.data_ptr(), bytes.data() + data_start + entry.begin,
                  entry.end - entry.begin);
    }
    contents.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return contents;
}

void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_binary_file_atomically(path, encode_safetensors(tensors, metadata));
}

SafetensorsContents read_safetensors(const std::string& path) {
  return decode_safetensors(read_binary_file(path), path);
}

}  // namespace pretext
