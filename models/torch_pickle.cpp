// Pickle writer and restricted reader for torch.save state dicts. Opcode semantics follow
// CPython Lib/pickle.py (_Unpickler.load_*); the allowed globals and the shape of the tensor
// records follow torch/_weights_only_unpickler.py and torch/_utils.py (_rebuild_tensor_v2).
#include "models/torch_pickle.h"

#include <cstring>
#include <map>
#include <memory>
#include <sstream>

namespace pretext {
namespace {

struct StorageName {
  const char* name;
  torch::ScalarType type;
};
constexpr StorageName kStorages[] = {
    {"DoubleStorage", torch::kFloat64}, {"FloatStorage", torch::kFloat32},
    {"HalfStorage", torch::kFloat16},   {"BFloat16Storage", torch::kBFloat16},
    {"LongStorage", torch::kInt64},     {"IntStorage", torch::kInt32},
    {"ShortStorage", torch::kInt16},    {"CharStorage", torch::kInt8},
    {"ByteStorage", torch::kUInt8},     {"BoolStorage", torch::kBool},
};

// ---------------------------------------------------------------------------------------------
// Writer

class PickleWriter {
 public:
  void op(char code) { out_ += code; }
  void global(const std::string& module, const std::string& name) {
    out_ += 'c';
    out_ += module + "\n" + name + "\n";
  }
  void text(const std::string& value) {
    out_ += 'X';  // BINUNICODE
    put32(static_cast<uint32_t>(value.size()));
    out_ += value;
  }
  void integer(int64_t value) {
    if (value >= 0 && value < 256) {
      out_ += 'K';  // BININT1
      out_ += static_cast<char>(value);
    } else if (value >= 0 && value < 65536) {
      out_ += 'M';  // BININT2
      out_ += static_cast<char>(value & 0xFF);
      out_ += static_cast<char>(value >> 8);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      out_ += 'J';  // BININT
      put32(static_cast<uint32_t>(static_cast<int32_t>(value)));
    } else {
      out_ += '\x8a';  // LONG1, 8-byte two's complement
      out_ += '\x08';
      for (int i = 0; i < 8; ++i)
        out_ += static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
    }
  }
  void int_tuple(torch::IntArrayRef values) {
    op('(');  // MARK
    for (const int64_t v : values) integer(v);
    op('t');  // TUPLE
  }
  std::string take() { return std::move(out_); }

 private:
  void put32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  std::string out_;
};

// ---------------------------------------------------------------------------------------------
// Reader

struct Object;
using Ref = std::shared_ptr<Object>;

struct Object {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor
  };
  Kind kind = Kind::kNone;
  int64_t integer = 0;  // also bool
  double real = 0.0;
  std::string text;                          // string value, or a global's "module.name"
  std::vector<Ref> items;                    // tuple / list
  std::vector<std::pair<Ref, Ref>> entries;  // dict
  torch::Tensor tensor;                      // storage (flat) or tensor
};

Ref make(Object::Kind kind) {
  auto object = std::make_shared<Object>();
  object->kind = kind;
  return object;
}

std::string describe(const Object& o) {
  switch (o.kind) {
    case Object::Kind::kNone:
      return "None";
    case Object::Kind::kBool:
      return "a bool";
    case Object::Kind::kInt:
      return "an int (" + std::to_string(o.integer) + ")";
    case Object::Kind::kFloat:
      return "a float";
    case Object::Kind::kString:
      return "a string";
    case Object::Kind::kTuple:
      return "a tuple";
    case Object::Kind::kList:
      return "a list";
    case Object::Kind::kDict:
      return "a dict";
    case Object::Kind::kGlobal:
      return "the global " + o.text;
    case Object::Kind::kStorage:
      return "a storage";
    case Object::Kind::kTensor:
      return "a tensor";
  }
  return "?";
}

class Unpickler {
 public:
  Unpickler(const std::string& bytes, const StorageLoader& load, const std::string& origin)
      : bytes_(bytes), load_(load), origin_(origin) {}

  Ref run() {
    while (true) {
      op_at_ = pos_;
      const unsigned char code = static_cast<unsigned char>(read(1)[0]);
      if (code == '.') break;  // STOP
      step(code);
    }
    check(stack_.size() == 1 && marks_.empty(), "pickle ends with ", stack_.size(),
          " values on the stack instead of 1");
    return stack_.back();
  }

 private:
  template <typename... Args>
  void check(bool ok, const Args&... message) const {
    TORCH_CHECK(ok, origin_, ": ", message..., " (pickle opcode at byte ", op_at_, ")");
  }

  std::string read(uint64_t n) {
    check(n <= bytes_.size() - pos_, "pickle truncated: needs ", n, " more bytes at byte ", pos_);
    std::string out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t read_uint(int width) {
    const std::string b = read(width);
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  std::string read_line() {
    const size_t end = bytes_.find('\n', pos_);
    check(end != std::string::npos, "pickle truncated inside a GLOBAL name");
    std::string line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  Ref pop() {
    check(!stack_.empty() && (marks_.empty() || stack_.size() > marks_.back()),
          "pickle pops an empty stack");
    Ref top = stack_.back();
    stack_.pop_back();
    return top;
  }
  std::vector<Ref> pop_to_mark() {
    check(!marks_.empty(), "pickle has no MARK to pop to");
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                           stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Ref& top() {
    check(!stack_.empty(), "pickle reads an empty stack");
    return stack_.back();
  }
  void push_tuple(std::vector<Ref> items) {
    auto tuple = make(Object::Kind::kTuple);
    tuple->items = std::move(items);
    stack_.push_back(tuple);
  }
  void push_string(std::string text) {
    auto s = make(Object::Kind::kString);
    s->text = std::move(text);
    stack_.push_back(s);
  }
  void push_int(int64_t value) {
    auto i = make(Object::Kind::kInt);
    i->integer = value;
    stack_.push_back(i);
  }

  void push_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    auto global = make(Object::Kind::kGlobal);
    global->text = full;
    const bool allowed = full == "collections.OrderedDict" ||
                         full == "torch._utils._rebuild_tensor_v2" ||
                         full == "torch._utils._rebuild_parameter";
    if (!allowed) {
      for (const auto& s : kStorages) {
        if (full == std::string("torch.") + s.name) {
          global->kind = Object::Kind::kGlobal;
          global->integer = static_cast<int64_t>(s.type);
          global->text = full;
          stack_.push_back(global);
          return;
        }
      }
      check(false, "refusing global '", full,
            "': only tensors in dicts can be read, and loading weights never runs code "
            "(save a plain state dict: torch.save(model.state_dict(), path))");
    }
    global->integer = -1;
    stack_.push_back(global);
  }

  void set_items(Ref dict, const std::vector<Ref>& items) {
    check(dict->kind == Object::Kind::kDict, "SETITEM(S) on ", describe(*dict), ", not a dict");
    check(items.size() % 2 == 0, "SETITEMS with an odd number of values");
    for (size_t i = 0; i < items.size(); i += 2) dict->entries.emplace_back(items[i], items[i + 1]);
  }

  void append_items(Ref list, const std::vector<Ref>& items) {
    check(list->kind == Object::Kind::kList, "APPEND(S) on ", describe(*list), ", not a list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }

  int64_t as_int(const Ref& o, const char* what) {
    check(o->kind == Object::Kind::kInt, what, " must be an int, got ", describe(*o));
    return o->integer;
  }
  std::vector<int64_t> as_ints(const Ref& o, const char* what) {
    check(o->kind == Object::Kind::kTuple, what, " must be a tuple, got ", describe(*o));
    std::vector<int64_t> values;
    for (const auto& item : o->items) values.push_back(as_int(item, what));
    return values;
  }

  Ref persistent_load(const Ref& pid) {
    check(pid->kind == Object::Kind::kTuple && pid->items.size() == 5 &&
              pid->items[0]->kind == Object::Kind::kString && pid->items[0]->text == "storage",
          "persistent id must be ('storage', type, key, location, numel), got ", describe(*pid));
    const Ref& type = pid->items[1];
    check(type->kind == Object::Kind::kGlobal && type->integer >= 0,
          "storage type must be a torch.*Storage class, got ", describe(*type));
    check(pid->items[2]->kind == Object::Kind::kString, "storage key must be a string");
    const std::string key = pid->items[2]->text;
    const int64_t numel = as_int(pid->items[4], "storage size");
    check(numel >= 0, "negative storage size ", numel);
    auto storage = make(Object::Kind::kStorage);
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      storage->tensor = cached->second;
    } else {
      storage->tensor = load_(key, static_cast<torch::ScalarType>(type->integer), numel);
      storages_[key] = storage->tensor;
    }
    check(storage->tensor.numel() == numel &&
              storage->tensor.scalar_type() == static_cast<torch::ScalarType>(type->integer),
          "storage '", key, "' is used with two different types or sizes");
    return storage;
  }

  Ref rebuild_tensor(const std::vector<Ref>& args) {
    check(args.size() == 6 || args.size() == 7, "_rebuild_tensor_v2 takes 6 or 7 arguments, got ",
          args.size());
    check(args[0]->kind == Object::Kind::kStorage, "_rebuild_tensor_v2 needs a storage, got ",
          describe(*args[0]));
    const torch::Tensor& storage = args[0]->tensor;
    const int64_t offset = as_int(args[1], "storage offset");
    const std::vector<int64_t> size = as_ints(args[2], "tensor size");
    const std::vector<int64_t> stride = as_ints(args[3], "tensor stride");
    check(size.size() == stride.size(), "tensor size ", torch::IntArrayRef(size), " and stride ",
          torch::IntArrayRef(stride), " differ in length");
    check(args[5]->kind == Object::Kind::kDict && args[5]->entries.empty(),
          "tensors with backward hooks are not supported");
    // Every element the view reaches must lie inside the storage.
    bool empty = false;
    int64_t last = offset;
    for (size_t d = 0; d < size.size(); ++d) {
      check(size[d] >= 0 && stride[d] >= 0, "negative size or stride in ", torch::IntArrayRef(size),
            " / ", torch::IntArrayRef(stride));
      empty = empty || size[d] == 0;
      if (size[d] > 0) last += (size[d] - 1) * stride[d];
    }
    check(offset >= 0 && (empty || last < storage.numel()), "tensor of size ",
          torch::IntArrayRef(size), " stride ", torch::IntArrayRef(stride), " offset ", offset,
          " reaches past its storage of ", storage.numel(), " elements");
    auto tensor = make(Object::Kind::kTensor);
    tensor->tensor =
        empty ? torch::empty(size, storage.options())
              : storage.as_strided(size, stride, offset).clone(torch::MemoryFormat::Contiguous);
    return tensor;
  }

  void reduce() {
    const Ref args = pop();
    Ref& callable = top();
    check(callable->kind == Object::Kind::kGlobal, "REDUCE calls ", describe(*callable));
    check(args->kind == Object::Kind::kTuple, "REDUCE arguments must be a tuple");
    const std::string& name = callable->text;
    if (name == "collections.OrderedDict") {
      check(args->items.empty(), "OrderedDict(...) with arguments is not supported");
      callable = make(Object::Kind::kDict);
    } else if (name == "torch._utils._rebuild_tensor_v2") {
      callable = rebuild_tensor(args->items);
    } else if (name == "torch._utils._rebuild_parameter") {
      check(args->items.size() >= 1 && args->items[0]->kind == Object::Kind::kTensor,
            "_rebuild_parameter needs a tensor");
      callable = args->items[0];
    } else {
      check(false, "refusing to call ", name);
    }
  }

  void step(unsigned char code) {
    switch (code) {
      case 0x80: {  // PROTO
        const uint64_t protocol = read_uint(1);
        check(protocol <= 5, "unknown pickle protocol ", protocol);
        break;
      }
      case 0x95:
        read(8);
        break;     // FRAME: a length hint only
      case 'c': {  // GLOBAL
        const std::string module = read_line();
        push_global(module, read_line());
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const Ref name = pop();
        const Ref module = pop();
        check(name->kind == Object::Kind::kString && module->kind == Object::Kind::kString,
              "STACK_GLOBAL needs two strings");
        push_global(module->text, name->text);
        break;
      }
      case 'q':
        memo_[read_uint(1)] = top();
        break;  // BINPUT
      case 'r':
        memo_[read_uint(4)] = top();
        break;  // LONG_BINPUT
      case 0x94:
        memo_[memo_.size()] = top();
        break;     // MEMOIZE
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        const uint64_t index = read_uint(code == 'h' ? 1 : 4);
        const auto it = memo_.find(index);
        check(it != memo_.end(), "pickle reads memo entry ", index, ", which was never stored");
        stack_.push_back(it->second);
        break;
      }
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case ')':
        push_tuple({});
        break;  // EMPTY_TUPLE
      case 0x85:
        push_tuple({pop()});
        break;      // TUPLE1
      case 0x86: {  // TUPLE2
        const Ref b = pop();
        const Ref a = pop();
        push_tuple({a, b});
        break;
      }
      case 0x87: {  // TUPLE3
        const Ref c = pop();
        const Ref b = pop();
        const Ref a = pop();
        push_tuple({a, b, c});
        break;
      }
      case 't':
        push_tuple(pop_to_mark());
        break;  // TUPLE
      case '}':
        stack_.push_back(make(Object::Kind::kDict));
        break;  // EMPTY_DICT
      case ']':
        stack_.push_back(make(Object::Kind::kList));
        break;     // EMPTY_LIST
      case 's': {  // SETITEM
        const Ref value = pop();
        const Ref key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<Ref> items = pop_to_mark();
        set_items(top(), items);
        break;
      }
      case 'a': {  // APPEND
        const Ref item = pop();
        append_items(top(), {item});
        break;
      }
      case 'e': {  // APPENDS
        const std::vector<Ref> items = pop_to_mark();
        append_items(top(), items);
        break;
      }
      case 'R':
        reduce();
        break;     // REDUCE
      case 'b': {  // BUILD: OrderedDict attributes (state_dict's _metadata)
        const Ref state = pop();
        check(top()->kind == Object::Kind::kDict, "BUILD on ", describe(*top()),
              "; only dict attributes (_metadata) are accepted");
        check(state->kind == Object::Kind::kDict || state->kind == Object::Kind::kNone,
              "BUILD with ", describe(*state));
        break;
      }
      case 'Q':
        stack_.push_back(persistent_load(pop()));
        break;  // BINPERSID
      case 'N':
        stack_.push_back(make(Object::Kind::kNone));
        break;
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        auto b = make(Object::Kind::kBool);
        b->integer = code == 0x88;
        stack_.push_back(b);
        break;
      }
      case 'K':
        push_int(static_cast<int64_t>(read_uint(1)));
        break;  // BININT1
      case 'M':
        push_int(static_cast<int64_t>(read_uint(2)));
        break;  // BININT2
      case 'J':
        push_int(static_cast<int32_t>(read_uint(4)));
        break;      // BININT
      case 0x8a: {  // LONG1
        const uint64_t n = read_uint(1);
        check(n <= 8, "integer of ", n, " bytes is too large");
        uint64_t v = n ? read_uint(static_cast<int>(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
        push_int(static_cast<int64_t>(v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        uint64_t bits = 0;
        for (const char c : read(8)) bits = (bits << 8) | static_cast<unsigned char>(c);
        auto f = make(Object::Kind::kFloat);
        std::memcpy(&f->real, &bits, 8);
        stack_.push_back(f);
        break;
      }
      case 'X':
        push_string(read(read_uint(4)));
        break;  // BINUNICODE
      case 0x8c:
        push_string(read(read_uint(1)));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push_string(read(read_uint(8)));
        break;  // BINUNICODE8
      case 'U':
        push_string(read(read_uint(1)));
        break;  // SHORT_BINSTRING
      case 'T':
        push_string(read(read_uint(4)));
        break;  // BINSTRING
      default: {
        std::ostringstream hex;
        hex << "0x" << std::hex << static_cast<int>(code);
        check(false, "pickle opcode ", hex.str(), " ('", std::string(1, static_cast<char>(code)),
              "') is not allowed in a weights file");
      }
    }
  }

  const std::string& bytes_;
  const StorageLoader& load_;
  const std::string& origin_;
  uint64_t pos_ = 0;
  uint64_t op_at_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Ref> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

void flatten(const Object& dict, const std::string& prefix, StateDict& out,
             const std::string& origin, int depth = 0) {
  // A memo reference can make a dict contain itself.
  TORCH_CHECK(depth < 32, origin, ": dicts nested deeper than 32 levels under '", prefix, "'");
  for (const auto& [key, value] : dict.entries) {
    TORCH_CHECK(key->kind == Object::Kind::kString, origin, ": dict key ",
                prefix.empty() ? "" : "under '" + prefix + "' ", "is ", describe(*key),
                "; state-dict keys must be strings");
    const std::string name = prefix.empty() ? key->text : prefix + "." + key->text;
    if (value->kind == Object::Kind::kTensor) {
      out.emplace_back(name, value->tensor);
    } else if (value->kind == Object::Kind::kDict) {
      flatten(*value, name, out, origin, depth + 1);
    } else {
      TORCH_CHECK(false, origin, ": entry '", name, "' holds ", describe(*value),
                  ", not a tensor; only dicts of tensors can be read (save "
                  "model.state_dict() alone)");
    }
  }
}

}  // namespace

std::string storage_class_name(torch::ScalarType type) {
  for (const auto& s : kStorages) {
    if (s.type == type) return s.name;
  }
  TORCH_CHECK(false, "torch.save format: no storage class for dtype ", type);
  return "";
}

std::string pickle_state_dict(const StateDict& state) {
  PickleWriter w;
  w.op('\x80');  // PROTO 2, as torch.save
  w.op('\x02');
  w.global("collections", "OrderedDict");
  w.op(')');
  w.op('R');
  w.op('(');
  for (size_t i = 0; i < state.size(); ++i) {
    const torch::Tensor& tensor = state[i].second;
    w.text(state[i].first);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op('(');
    // Persistent id ('storage', torch.FloatStorage, key, location, numel).
    w.op('(');
    w.text("storage");
    w.global("torch", storage_class_name(tensor.scalar_type()));
    w.text(std::to_string(i));
    w.text("cpu");
    w.integer(tensor.numel());
    w.op('t');
    w.op('Q');
    w.integer(0);  // storage offset
    w.int_tuple(tensor.sizes());
    std::vector<int64_t> stride(tensor.dim(), 1);  // contiguous strides
    for (int64_t d = tensor.dim() - 2; d >= 0; --d) stride[d] = stride[d + 1] * tensor.size(d + 1);
    w.int_tuple(stride);
    w.op('\x89');                            // requires_grad = False
    w.global("collections", "OrderedDict");  // backward hooks: empty
    w.op(')');
    w.op('R');
    w.op('t');
    w.op('R');
  }
  w.op('u');  // SETITEMS
  w.op('.');  // STOP
  return w.take();
}

StateDict unpickle_state_dict(const std::string& pickle, const StorageLoader& load_storage,
                              const std::string& origin) {
  const Ref root = Unpickler(pickle, load_storage, origin).run();
  TORCH_CHECK(root->kind == Object::Kind::kDict, origin, ": holds ", describe(*root),
              ", not a dict of tensors");
  StateDict state;
  flatten(*root, "", state, origin);
  return state;
}

}  // namespace pretext
