// A small JSON reader and string escaper for the weight-file headers (safetensors). It parses
// RFC 8259 text into a tree and reports the byte offset of the first error; it is not meant for
// large documents.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pretext {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string text;              ///< string value, or the number as written (exact integers)
  std::vector<JsonValue> items;  ///< array elements
  /// Object members in file order (duplicate keys are rejected by the parser).
  std::vector<std::pair<std::string, JsonValue>> members;

  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kNumber; }
  /// The member named `key`, or nullptr.
  const JsonValue* find(const std::string& key) const;
  /// A non-negative integer written without fraction or exponent, as an exact uint64; throws
  /// c10::Error naming `what` otherwise.
  uint64_t as_index(const std::string& what) const;
  /// "object", "array", ... for messages.
  std::string kind_name() const;
};

/// Parses one JSON value filling all of `text` (whitespace around it allowed). Throws c10::Error
/// "<origin>: ... at byte N" on malformed text, duplicate object keys or nesting deeper than 64.
JsonValue parse_json(const std::string& text, const std::string& origin);

/// `value` as a JSON string literal, quotes included (control characters as \u00XX).
std::string json_string_literal(const std::string& value);

}  // namespace pretext
