// Human-readable sizes, rates and durations for logs and summaries. SI units throughout
// (1 MB = 10^6 bytes), so that sizes and MB/s rates agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shared::format {

/// "0 B", "999 B", "1.5 kB", "12.3 MB", "4.0 GB".
std::string bytes(std::uint64_t count);

/// "850.3 MB/s" from a byte count and seconds; "-" when seconds is not positive.
std::string rate(std::uint64_t count, double seconds);

/// "0.42 s", "12.3 s", "4m05s", "2h03m".
std::string duration(double seconds);

/// Digits grouped by thousands: 1234567 → "1,234,567".
std::string count(std::uint64_t value);

/// A size in bytes from "4096", "512k", "1.5MB", "10GiB", "2 TB": SI suffixes (k, M, G, T,
/// with or without B) are powers of 1000, binary ones (Ki, Mi, Gi, Ti, with or without B) powers
/// of 1024; case-insensitive. nullopt for anything else (negative, empty, unknown suffix,
/// more than 2^64 - 1 bytes).
std::optional<std::uint64_t> parse_size(std::string_view text);

} // namespace shared::format
