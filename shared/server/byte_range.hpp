// The Range request header (RFC 9110 §14.2, byte ranges §14.1.2) for one representation of a
// known length. One range is served; several ranges are refused rather than answered with
// multipart/byteranges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shared::server {

/// What a Range header asks of a representation.
struct RangeRequest {
  enum class Kind {
    none,          ///< no header, or a unit other than bytes (ignored, RFC 9110 §14.2): 200
    single,        ///< one satisfiable range: 206 with `first`…`last`
    unsatisfiable, ///< a valid range that starts at or past the end: 416
    malformed,     ///< not a byte-range set, or more than one range: 416 too
  };
  Kind kind = Kind::none;
  std::uint64_t first = 0; ///< first byte offset (single)
  std::uint64_t last = 0;  ///< last byte offset, inclusive, < length (single)
};

/// Parses `header` ("bytes=0-99", "bytes=100-", "bytes=-500", optional spaces around the
/// range) against a representation of `length` bytes. A last offset past the end is cut to
/// length - 1 (RFC 9110 §14.1.2); a suffix longer than the representation means all of it.
RangeRequest parse_range(std::string_view header, std::uint64_t length);

/// "bytes <first>-<last>/<length>" (RFC 9110 §14.4).
std::string content_range(std::uint64_t first, std::uint64_t last, std::uint64_t length);

/// "bytes */<length>", the Content-Range of a 416 answer.
std::string unsatisfied_range(std::uint64_t length);

} // namespace shared::server
