// Decoding a body sent with Transfer-Encoding: chunked (RFC 9112 §7.1) as it streams in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace shared::http {

/// Takes the framing off a chunked body pushed to it in pieces of any size: chunk sizes,
/// chunk extensions and trailer fields are read and dropped, chunk data is passed on. Bytes
/// after the final empty line are ignored. Hand-written because Poco's chunked stream (1.11)
/// takes a body cut off before its last chunk as complete, and such a body must be fetched
/// again.
class ChunkedDecoder {
public:
  /// Decodes the next `size` bytes of the body, handing the chunk data among them to
  /// `deliver`. Throws BrokenBody for a malformed chunk size, a chunk not followed by CRLF or
  /// a line over 8 KiB, and what `deliver` throws.
  void feed(const char* data, std::size_t size,
            const std::function<void(const char*, std::size_t)>& deliver);

  /// Whether the last chunk and the trailer section have been read: the body is complete.
  bool complete() const { return m_state == State::complete; }

private:
  enum class State {
    size_line, // "<hex size>[;extensions]" CRLF
    data,      // m_left more bytes of chunk data
    data_end,  // the CRLF after chunk data
    trailer,   // trailer fields, up to an empty line
    complete,
  };
  void end_line(); // m_line holds a whole line, without its LF

  State m_state = State::size_line;
  std::string m_line;
  std::uint64_t m_left = 0;
};

} // namespace shared::http
