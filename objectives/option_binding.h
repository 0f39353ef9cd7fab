// Typed bindings from config keys to fields of Options structs. An objective lists its keys
// with bind_options(); launch/config.cpp turns them into command-line and file options, so
// adding an objective never touches the config code.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pretext {

struct OptionBinding {
  std::string key;   ///< key inside the section, e.g. "temperature"
  std::string help;  ///< why it matters and the reference setting
  std::variant<int64_t*, double*, bool*, std::string*, std::vector<double>*, std::vector<int64_t>*>
      target;
};

using OptionBindings = std::vector<OptionBinding>;

/// Parses `text` into the bound field; throws c10::ValueError naming `full_key` on a malformed
/// value. Lists are comma-separated.
void assign_option(const OptionBinding& binding, const std::string& full_key,
                   const std::string& text);

/// The bound field's current value as config text (the inverse of assign_option).
std::string format_option(const OptionBinding& binding);

}  // namespace pretext
