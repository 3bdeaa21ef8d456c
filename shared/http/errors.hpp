// HTTP failures, as the transfer engine sees them.
#pragma once

#include "shared/error/error.hpp"

#include <string>

namespace shared::http {

/// The server answered with a status that is not success and not retried (400, 401, 403,
/// 404, …), or a retried status persisted past the retries. what() is
/// "GET <redacted url>: <status> <reason>". Exit status: network.
class HttpStatusError : public error::Error {
public:
  HttpStatusError(int status, const std::string& message)
      : error::Error(error::ExitCode::network, message), m_status(status) {}
  int status() const { return m_status; }

private:
  int m_status;
};

/// The exchange failed below HTTP, and retries did not cure it: refused, reset, timed out,
/// a body shorter than its Content-Length, a broken gzip stream, too many redirects.
/// Exit status: network.
class NetworkError : public error::Error {
public:
  explicit NetworkError(const std::string& message)
      : error::Error(error::ExitCode::network, message) {}
};

/// A response body cut short or not well formed: fewer bytes than its Content-Length, a
/// chunked body with bad framing or without its last chunk (RFC 9112 §7.1), a broken gzip
/// stream (RFC 1952). Client retries such a body like a network failure; when the retries run
/// out it reports a NetworkError with this message. Exit status: network.
class BrokenBody : public error::Error {
public:
  explicit BrokenBody(const std::string& message)
      : error::Error(error::ExitCode::network, message) {}
};

/// The server answered, but not as its protocol says: a DRS 202 without Retry-After, a DRS
/// object without a size or an access URL, a 200 to a Range request. Not a checksum or size
/// mismatch of the bytes (that is error::IntegrityError), and not retried. Exit status: network.
class ProtocolError : public error::Error {
public:
  explicit ProtocolError(const std::string& message)
      : error::Error(error::ExitCode::network, message) {}
};

} // namespace shared::http
