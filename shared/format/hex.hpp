// Hex digits, as SHA-256 strings and percent escapes (RFC 3986 §2.1) write them.
#pragma once

#include <string>

namespace shared::format {

namespace detail {
// hex_digit_value() by table: one load instead of three branches a character (SHA-256 hex is
// random, so branches would mispredict half the time).
struct HexTable {
  signed char value[256];
  constexpr HexTable() : value() {
    for (int c = 0; c < 256; ++c) {
      value[c] = c >= '0' && c <= '9'   ? static_cast<signed char>(c - '0')
                 : c >= 'a' && c <= 'f' ? static_cast<signed char>(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? static_cast<signed char>(c - 'A' + 10)
                                        : static_cast<signed char>(-1);
    }
  }
};
inline constexpr HexTable k_hex_table{};
} // namespace detail

/// The value of a hex digit of either case (0–15), or -1 for any other character.
inline int hex_digit_value(char c) {
  return detail::k_hex_table.value[static_cast<unsigned char>(c)];
}

/// Appends `byte` as a percent escape, "%" and two uppercase hex digits (RFC 3986 §2.1).
inline void append_percent_escape(std::string& out, unsigned char byte) {
  static constexpr char k_digits[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(k_digits[byte >> 4]);
  out.push_back(k_digits[byte & 15]);
}

} // namespace shared::format
