// JSON Lines metrics log, one flat object per line, as written by many training loops
// (e.g. the DINO and MAE log.txt files) and read by pandas.read_json(lines=True).

#include "train/metrics_log.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

MetricsLog::MetricsLog(const std::string& path) : path_(path), out_(path, std::ios::app) {
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
