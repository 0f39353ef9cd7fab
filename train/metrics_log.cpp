// JSON Lines metrics log, one flat object per line, as written by many training loops
// (e.g. the DINO and MAE log.txt files) and read by pandas.read_json(lines=True).

#include "train/metrics_log.h"

#include "train/text_file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <c10/util/Exception.h>

namespace pretext {
namespace {

/// Shortest of %.15g / %.17g that reads back as the same double.
std::string format_double(double value) {
  if (!std::isfinite(value)) {
    return "null";
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) {
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  }
  return buffer;
}

}  // namespace

JsonObject& JsonObject::add(const std::string& key, double value) {
  fields_.emplace_back(key, format_double(value));
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, int64_t value) {
  fields_.emplace_back(key, std::to_string(value));
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, json_quote(value));
  return *this;
}

JsonObject& JsonObject::add_json(const std::string& key, const std::string& json) {
  fields_.emplace_back(key, json);
  return *this;
}

std::string JsonObject::str() const {
  std::string out = "{";
  for (size_t i = 0; i < fields_.size(); ++i) {
    out += (i == 0 ? "" : ", ") + json_quote(fields_[i].first) + ": " + fields_[i].second;
  }
  return out + "}";
}

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;  // UTF-8 bytes pass through unchanged
        }
    }
  }
  return out + "\"";
}

namespace {

/// The integer after "step": in one record, or -1 when the line has none.
int64_t step_of(const std::string& line) {
  const std::string key = "\"step\": ";
  const auto at = line.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + key.size(), nullptr, 10);
}

void drop_records_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in.is_open()) return;  // nothing logged yet
  std::vector<std::string> kept;
  bool dropped = false;
  for (std::string line; std::getline(in, line);) {
    if (step_of(line) > step) {
      dropped = true;
    } else {
      kept.push_back(line);
    }
  }
  in.close();
  if (!dropped) return;
  std::string text;
  for (const auto& line : kept) text += line + '\n';
  write_text_file_atomic(path, text);
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) : path_(path) {
  if (keep_through_step >= 0) drop_records_after(path, keep_through_step);
  out_.open(path, std::ios::app);
  TORCH_CHECK(out_.is_open(), "MetricsLog: cannot open '", path_,
              "' for appending: ", std::strerror(errno),
              " (does the folder exist and is it writable?)");
}

void MetricsLog::write(const JsonObject& record) {
  out_ << record.str() << '\n';
  out_.flush();
  TORCH_CHECK(out_.good(), "MetricsLog: cannot write to '", path_, "': ", std::strerror(errno),
              " (is the disk full?)");
}

}  // namespace pretext
