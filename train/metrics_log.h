// metrics.jsonl: one JSON object per logged step, appended and flushed line by line so a
// crash loses at most the line being written.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pretext {

/// A JSON object; values are numbers, strings, or JSON text built elsewhere (add_json).
class JsonObject {
 public:
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, int64_t value);
  JsonObject& add(const std::string& key, const std::string& value);
  /// `json` must already be valid JSON (an object or array built by the caller).
  JsonObject& add_json(const std::string& key, const std::string& json);
  /// Other integer types (int, size_t, ...) as int64_t, so add("epoch", 3) is not ambiguous.
  template <typename T,
            typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  JsonObject& add(const std::string& key, T value) {
    return add(key, static_cast<int64_t>(value));
  }
  /// {"key": value, ...} on one line, keys in insertion order; non-finite numbers -> null.
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key, encoded value
};

/// Escapes a string as a JSON string literal, quotes included.
std::string json_quote(const std::string& text);

class MetricsLog {
 public:
  /// Opens `path` for appending (a resumed run continues the same file). With
  /// keep_through_step >= 0, records whose "step" is beyond it are dropped first: a run resumed
  /// from step N replays steps after N, and its curve must not show them twice.
  explicit MetricsLog(const std::string& path, int64_t keep_through_step = -1);
  void write(const JsonObject& record);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace pretext
