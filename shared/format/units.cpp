#include "shared/format/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shared::format {

std::string bytes(std::uint64_t count) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  if (count < 1000) {
    return std::to_string(count) + " B";
  }
  double value = static_cast<double>(count);
  int unit = 0;
  while (value >= 999.95 && unit < 5) {
    value /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string rate(std::uint64_t count, double seconds) {
  if (!(seconds > 0)) {
    return "-";
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB/s", static_cast<double>(count) / seconds / 1e6);
  return text;
}

std::string duration(double seconds) {
  char text[32];
  if (seconds < 10) {
    std::snprintf(text, sizeof text, "%.2f s", seconds);
  } else if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1f s", seconds);
  } else if (seconds < 3600) {
    const long total = std::lround(seconds);
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  } else {
    const long minutes = std::lround(seconds / 60);
    std::snprintf(text, sizeof text, "%ldh%02ldm", minutes / 60, minutes % 60);
  }
  return text;
}

std::string count(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

} // namespace shared::format

namespace shared::format {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  const std::string number(text.substr(0, digits));
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) {
    return std::nullopt;
  }
  std::string suffix;
  for (char c : text.substr(digits)) {
    if (c != ' ') {
      suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!suffix.empty() && suffix.back() == 'b') {
    suffix.pop_back();
  }
  static const char* const prefixes = "kmgtp";
  double scale = 1;
  if (!suffix.empty()) {
    const char* at = std::strchr(prefixes, suffix[0]);
    const bool binary = suffix.size() == 2 && suffix[1] == 'i';
    if (at == nullptr || *at == '\0' || (suffix.size() != 1 && !binary)) {
      return std::nullopt;
    }
    scale = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(at - prefixes + 1));
  }
  const double bytes = std::round(value * scale);
  if (!(bytes < 18446744073709551616.0)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(bytes);
}

} // namespace shared::format
