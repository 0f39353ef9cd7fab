// Parsing and printing of bound option values.
#include "objectives/option_binding.h"

#include <cerrno>
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include <c10/util/Exception.h>

namespace pretext {
namespace {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

double parse_double(const std::string& full_key, const std::string& text) {
  const std::string value = trim(text);
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(value.c_str(), &end);
  TORCH_CHECK_VALUE(!value.empty() && end == value.c_str() + value.size() && errno == 0,
                    "config key '", full_key, "': expected a number, got '", text, "'");
  return parsed;
}

int64_t parse_int(const std::string& full_key, const std::string& text) {
  const std::string value = trim(text);
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(value.c_str(), &end, 10);
  TORCH_CHECK_VALUE(!value.empty() && end == value.c_str() + value.size() && errno == 0,
                    "config key '", full_key, "': expected an integer, got '", text, "'");
  return static_cast<int64_t>(parsed);
}

bool parse_bool(const std::string& full_key, const std::string& text) {
  const std::string value = trim(text);
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  TORCH_CHECK_VALUE(false, "config key '", full_key, "': expected true or false, got '", text, "'");
  return false;
}

std::string format_double(double value) {
  std::ostringstream out;
  out << std::setprecision(17) << value;
  // Prefer the shortest text that reads back to the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream shorter;
    shorter << std::setprecision(precision) << value;
    if (std::strtod(shorter.str().c_str(), nullptr) == value) return shorter.str();
  }
  return out.str();
}

}  // namespace

void assign_option(const OptionBinding& binding, const std::string& full_key,
                   const std::string& text) {
  std::visit(
      [&](auto* field) {
        using Field = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, int64_t>) {
          *field = parse_int(full_key, text);
        } else if constexpr (std::is_same_v<Field, double>) {
          *field = parse_double(full_key, text);
        } else if constexpr (std::is_same_v<Field, bool>) {
          *field = parse_bool(full_key, text);
        } else if constexpr (std::is_same_v<Field, std::string>) {
          *field = trim(text);
        } else {
          using Item = typename Field::value_type;
          Field values;
          std::stringstream stream(text);
          std::string item;
          while (std::getline(stream, item, ',')) {
            if constexpr (std::is_same_v<Item, int64_t>) {
              values.push_back(parse_int(full_key, item));
            } else {
              values.push_back(parse_double(full_key, item));
            }
          }
          TORCH_CHECK_VALUE(!values.empty(), "config key '", full_key,
                            "': expected a comma-separated list of numbers, got '", text, "'");
          *field = values;
        }
      },
      binding.target);
}

std::string format_option(const OptionBinding& binding) {
  return std::visit(
      [](auto* field) -> std::string {
        using Field = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, int64_t>) {
          return std::to_string(*field);
        } else if constexpr (std::is_same_v<Field, double>) {
          return format_double(*field);
        } else if constexpr (std::is_same_v<Field, bool>) {
          return *field ? "true" : "false";
        } else if constexpr (std::is_same_v<Field, std::string>) {
          return *field;
        } else {
          std::string joined;
          for (size_t i = 0; i < field->size(); ++i) {
            joined += i ? "," : "";
            if constexpr (std::is_same_v<typename Field::value_type, int64_t>) {
              joined += std::to_string((*field)[i]);
            } else {
              joined += format_double((*field)[i]);
            }
          }
          return joined;
        }
      },
      binding.target);
}

}  // namespace pretext
