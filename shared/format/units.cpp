#include "shared/format/units.hpp"

#include <cmath>
#include <cstdio>

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
