#include "shared/task/manifest.hpp"

#include <cctype>

namespace shared::task {

std::string kebab_case(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) {
        out.push_back('-');
      }
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string InputSpec::flag() const {
  return "--" + kebab_case(name);
}

std::string InputSpec::environment_variable() const {
  std::string out = "INPUT_";
  for (char c : name) {
    out.push_back(c == ' ' || c == '-'
                      ? '_'
                      : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

const InputSpec* Manifest::find(std::string_view input_name) const {
  for (const auto& input : inputs) {
    if (input.name == input_name) {
      return &input;
    }
  }
  return nullptr;
}

} // namespace shared::task
