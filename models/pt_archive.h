// PyTorch's torch.save file (the ZIP format of PyTorch >= 1.6) for state dicts: entries
// <name>/data.pkl (models/torch_pickle.h), <name>/data/<key> (raw little-endian storages),
// <name>/version and <name>/byteorder. Files written here load with
// torch.load(path, weights_only=True); files read here never run code. The legacy pre-1.6
// format (a bare pickle stream) is refused with a hint to re-save it.
#pragma once

#include <string>

#include "models/state_dict.h"

namespace pretext {

/// The bytes torch.save(state_dict, "<archive_name>.pt") would write (stored entries).
std::string encode_pt(const StateDict& state, const std::string& archive_name = "archive");

/// A torch.save archive's dict of tensors (nested dicts flattened with '.'); `origin` names it.
StateDict decode_pt(const std::string& bytes, const std::string& origin);

/// Atomically writes encode_pt(state, <file stem>) to `path`.
void write_pt(const std::string& path, const StateDict& state);

StateDict read_pt(const std::string& path);

}  // namespace pretext
