// Reading a response body off the connection of a Poco client session, in large blocks, with
// the checks that tell a complete body from one cut short (RFC 9112 §6.3).
#pragma once

#include <Poco/Buffer.h>
#include <Poco/Net/HTTPClientSession.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace shared::http {

/// Where body bytes go: the next `size` bytes of the body.
using Deliver = std::function<void(const char* data, std::size_t size)>;

/// Reads the body of the response `session` has just received (after receiveResponse()) in
/// blocks of up to `size` bytes of `buffer`: first the bytes Poco read past the headers, then
/// straight from the socket. Poco's own body streams read 4 KiB at a time, and its chunked
/// stream takes a body cut before its last chunk as complete. Every read throws Poco::Exception
/// for network failures (Poco::TimeoutException after the session's receive timeout), and
/// passes on what `deliver` throws.
class BodyReader {
public:
  BodyReader(Poco::Net::HTTPClientSession& session, char* buffer, std::size_t size);

  /// A body of `length` bytes (Content-Length). Throws BrokenBody when the connection ends
  /// first, naming how many bytes came.
  void read_exactly(std::uint64_t length, const Deliver& deliver);

  /// Up to `length` bytes, to the end of the connection if it comes first; returns the bytes
  /// read.
  std::uint64_t read_up_to(std::uint64_t length, const Deliver& deliver);

  /// A body sent with Transfer-Encoding: chunked, without its framing. Throws BrokenBody when
  /// the framing is malformed or the connection ends before the last chunk.
  void read_chunked(const Deliver& deliver);

  /// A body that ends when the server closes the connection.
  void read_to_close(const Deliver& deliver);

private:
  std::string_view next(std::uint64_t limit); // empty: the connection has ended

  Poco::Net::HTTPClientSession& m_session;
  Poco::Buffer<char> m_ahead{0}; // what Poco read past the headers
  std::size_t m_ahead_used = 0;  // bytes of m_ahead handed out
  char* m_buffer;
  std::size_t m_size;
};

} // namespace shared::http
