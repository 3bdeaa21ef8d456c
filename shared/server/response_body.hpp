// Sending an answer's body straight to the client's socket in the writers' large blocks (Poco's
// own response stream would cut it into 4 KiB writes), as a zip::Sink: a client that goes away
// makes write() return false, so a ZIP writer stops within one buffer.
#pragma once

#include "shared/server/router.hpp"
#include "shared/zip/io.hpp"

#include <cstddef>
#include <string>

namespace shared::server {

/// The body of `exchange`'s answer. The constructor sends the status line and headers as set
/// on exchange.response: with its Content-Length (the body must then be exactly that long), or
/// chunked (RFC 9112 §7.1) when setChunkedTransferEncoding(true) was called, in which case each
/// write() is one chunk and Poco ends the chunked body when the handler returns. For HEAD
/// nothing but the headers is ever sent, and write() must not be called.
///
/// write() sends all of its bytes (send(2) with MSG_NOSIGNAL, at most exchange.send_timeout
/// seconds blocked), waits exchange.chunk_delay seconds before each write but the first, and
/// returns false, marking exchange.client_gone, when the client went away, the send timed out
/// or the service is stopping. Bytes sent are counted in exchange.body_bytes.
class ResponseBody : public zip::Sink {
public:
  explicit ResponseBody(Exchange& exchange);
  bool write(const char* data, std::size_t size) override;
  /// With a Content-Length (not chunked): sendfile(2) from the file, 4 MiB at a time (one
  /// k_buffer_size block at a time when throttled), with write()'s delay, stop and client
  /// checks before each.
  bool accepts_files() const override { return !m_chunked; }
  bool write_file(int fd, std::uint64_t offset, std::uint64_t count) override;

  /// Ends the connection after an answer that cannot be completed (e.g. a file changed while
  /// being sent), so that the client sees a short body rather than waiting.
  void abort();

private:
  bool send_all(const char* data, std::size_t size);
  bool wait_delay();

  Exchange& m_exchange;
  int m_fd = -1;
  bool m_chunked = false;
  bool m_first = true;
};

/// Sends a complete short answer: `status`, `content_type`, `body` (for HEAD, only headers
/// with the body's length).
void send_text(Exchange& exchange, int status, const std::string& content_type,
               const std::string& body);

/// A short HTML page ("<status> <reason>" and `message`) with `status`.
void send_page(Exchange& exchange, int status, const std::string& message);

} // namespace shared::server
