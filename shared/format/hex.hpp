// Hex digits, as SHA-256 strings and percent escapes (RFC 3986 §2.1) write them.
#pragma once

#include <string>

namespace shared::format {

/// The value of a hex digit of either case (0–15), or -1 for any other character.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/// Appends `byte` as a percent escape, "%" and two uppercase hex digits (RFC 3986 §2.1).
inline void append_percent_escape(std::string& out, unsigned char byte) {
  static constexpr char k_digits[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(k_digits[byte >> 4]);
  out.push_back(k_digits[byte & 15]);
}

} // namespace shared::format
