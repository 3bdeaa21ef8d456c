// Decoding a gzip response body (Content-Encoding: gzip, RFC 9110 §8.4.1.3; the format is
// RFC 1952) as it streams in, with zlib.
#pragma once

#include <cstddef>
#include <functional>
#include <zlib.h>

namespace shared::http {

/// Inflates one gzip member pushed to it in pieces of any size. Bytes after the member's end
/// are ignored. Hand-written over zlib because Poco::InflatingOutputStream takes a stream cut
/// before its end as complete, and a truncated body must be told apart to be fetched again.
class GzipDecoder {
public:
  /// Throws std::bad_alloc when zlib cannot allocate its state.
  GzipDecoder();
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  /// Decodes the next `size` bytes of the stream, handing what they decode to, in pieces of
  /// at most 64 KiB, to `deliver`. Throws BrokenBody when the bytes are not gzip, and what
  /// `deliver` throws.
  void feed(const char* data, std::size_t size,
            const std::function<void(const char*, std::size_t)>& deliver);

  /// The stream has ended: throws BrokenBody unless the member ended (its CRC-32 and length
  /// checked).
  void finish() const;

private:
  z_stream m_stream{};
  bool m_ended = false;
  char m_out[64 * 1024];
};

} // namespace shared::http
