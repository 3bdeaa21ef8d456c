// Answering GET/HEAD for a representation of known length and ETag with the conditional and
// range headers of RFC 9110 (§13.1.2 If-None-Match, §13.1.5 If-Range, §14.2 Range), and
// sending a byte range of a local file. Used by every route that serves bytes it can seek in
// (stored archives, single files, finished archives of later features).
#pragma once

#include "shared/server/response_body.hpp"
#include "shared/server/router.hpp"

#include <cstdint>
#include <string>

namespace shared::server {

/// The byte range a GET is to send, inclusive.
struct ChosenRange {
  std::uint64_t first = 0; ///< first byte offset
  std::uint64_t last = 0;  ///< last byte offset; when the length is 0 there is nothing to send
};

/// Sets ETag (`etag`, quoted) and Accept-Ranges: bytes on the response, then: a matching
/// If-None-Match → answers 304 itself and returns false; a Range (honoured unless an If-Range
/// differs from `etag`) that is malformed, multiple or unsatisfiable → answers 416 with
/// Content-Range: bytes */`length` itself and returns false; else sets 206 with Content-Range
/// and Content-Length for one range, or 200 with Content-Length `length`, writes the range to
/// `range` and returns true (the caller then sends the headers and, for GET, exactly those
/// bytes). Other headers the caller set (Content-Type …) stay.
bool choose_range(Exchange& exchange, const std::string& etag, std::uint64_t length,
                  ChosenRange& range);

/// Sends bytes `first` … `last` of the open file `fd` through `body` (sendfile(2) where the
/// body accepts files). Returns false when the client went away; throws
/// error::IntegrityError when the file ends early.
bool send_file_range(ResponseBody& body, int fd, std::uint64_t first, std::uint64_t last);

} // namespace shared::server
