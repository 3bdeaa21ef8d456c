// Human-readable sizes, rates and durations for logs and summaries. SI units throughout
// (1 MB = 10^6 bytes), so that sizes and MB/s rates agree.
#pragma once

#include <cstdint>
#include <string>

namespace shared::format {

/// "0 B", "999 B", "1.5 kB", "12.3 MB", "4.0 GB".
std::string bytes(std::uint64_t count);

/// "850.3 MB/s" from a byte count and seconds; "-" when seconds is not positive.
std::string rate(std::uint64_t count, double seconds);

/// "0.42 s", "12.3 s", "4m05s", "2h03m".
std::string duration(double seconds);

/// Digits grouped by thousands: 1234567 → "1,234,567".
std::string count(std::uint64_t value);

} // namespace shared::format
