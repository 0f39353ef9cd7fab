// The pickle inside PyTorch's torch.save archives (data.pkl), for state dicts only. Writing emits
// what torch.save(state_dict) emits: protocol 2, an OrderedDict of tensors rebuilt by
// torch._utils._rebuild_tensor_v2 from persistent-id storages. Reading is a restricted pickle
// interpreter that never runs code: like torch.load(weights_only=True) it resolves only the
// globals needed to rebuild tensors, and it accepts only (nested) dicts of tensors, refusing any
// other global (os.system, argparse.Namespace, ...) or non-tensor value, naming what it found.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "models/state_dict.h"

namespace pretext {

/// Protocol-2 pickle of an OrderedDict of tensors; tensor i refers to storage key "i" (the
/// archive entry data/i), typed by its dtype's legacy storage class (torch.FloatStorage, ...).
/// Tensors are written as contiguous views of their whole storage.
std::string pickle_state_dict(const StateDict& state);

/// PyTorch's storage class name ("FloatStorage") for a dtype; throws for dtypes without one.
std::string storage_class_name(torch::ScalarType type);

/// Loads the storage archived under `key` as a flat [numel] tensor of `type`.
using StorageLoader =
    std::function<torch::Tensor(const std::string& key, torch::ScalarType type, int64_t numel)>;

/// Interprets a pickle that must describe a dict (or OrderedDict) whose values are tensors or
/// dicts of the same kind; nested names are joined with '.'. Throws c10::Error "<origin>: ..."
/// naming the refused global, opcode (with its byte offset) or entry.
StateDict unpickle_state_dict(const std::string& pickle, const StorageLoader& load_storage,
                              const std::string& origin);

}  // namespace pretext
