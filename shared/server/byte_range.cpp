#include "shared/server/byte_range.hpp"

#include <Poco/String.h>

#include <optional>

namespace shared::server {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Decimal digits only, no overflow.
std::optional<std::uint64_t> number(std::string_view digits) {
  if (digits.empty() || digits.size() > 19) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

} // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t length) {
  using Kind = RangeRequest::Kind;
  RangeRequest result;
  header = trim(header);
  if (header.empty()) {
    return result;
  }
  const auto equals = header.find('=');
  if (equals == std::string_view::npos) {
    result.kind = Kind::malformed;
    return result;
  }
  if (Poco::toLower(std::string(trim(header.substr(0, equals)))) != "bytes") {
    return result; // another unit: ignored
  }
  const std::string_view spec = trim(header.substr(equals + 1));
  const auto dash = spec.find('-');
  if (spec.find(',') != std::string_view::npos || dash == std::string_view::npos) {
    result.kind = Kind::malformed;
    return result;
  }
  const std::string_view from = trim(spec.substr(0, dash));
  const std::string_view to = trim(spec.substr(dash + 1));
  if (from.empty()) { // suffix: the last N bytes
    const auto count = number(to);
    if (!count) {
      result.kind = Kind::malformed;
    } else if (*count == 0 || length == 0) {
      result.kind = Kind::unsatisfiable;
    } else {
      result.kind = Kind::single;
      result.first = *count >= length ? 0 : length - *count;
      result.last = length - 1;
    }
    return result;
  }
  const auto first = number(from);
  const auto last = to.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : number(to);
  if (!first || !last || *last < *first) {
    result.kind = Kind::malformed;
  } else if (*first >= length) {
    result.kind = Kind::unsatisfiable;
  } else {
    result.kind = Kind::single;
    result.first = *first;
    result.last = *last >= length ? length - 1 : *last;
  }
  return result;
}

std::string content_range(std::uint64_t first, std::uint64_t last, std::uint64_t length) {
  return "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
         std::to_string(length);
}

std::string unsatisfied_range(std::uint64_t length) {
  return "bytes */" + std::to_string(length);
}

} // namespace shared::server
