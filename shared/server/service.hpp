// An HTTP/1.1 service on Poco::Net::HTTPServer: a listening socket, a bounded thread pool and
// connection queue, every request dispatched through a Router, signed links checked, errors
// answered with short pages, and one log line per request.
#pragma once

#include "shared/log/logger.hpp"
#include "shared/server/router.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
} // namespace Poco

namespace shared::server {

/// How the service listens and answers.
struct ServiceOptions {
  std::string host = "127.0.0.1"; ///< address to bind (IPv4 or IPv6 literal, or a name)
  std::uint16_t port = 8080;      ///< 0: any free port (see Service::port())
  int threads = 64;               ///< requests answered at once
  int queue = 256;                ///< accepted connections waiting for a thread
  int timeout = 60;               ///< seconds a read or a body write may block
  double chunk_delay = 0;         ///< seconds between body writes (throttling, tests)
  std::string secret;             ///< non-empty: routes with signed_link need signed links
  bool log_requests = false;      ///< one info line per request
};

/// The running service. Not copyable.
class Service {
public:
  /// Binds host:port and starts answering with `router` (which must outlive the service).
  /// Throws error::UsageError naming the address when it cannot be bound.
  Service(const Router& router, const ServiceOptions& options, log::Logger& logger);
  /// Stops (see stop()).
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// The port actually bound.
  std::uint16_t port() const { return m_port; }

  /// Stops accepting, makes running answers stop at their next body write, closes every
  /// connection and waits for the handlers to return. Idempotent.
  void stop();

  class Dispatcher; // internal

private:
  std::unique_ptr<Poco::ThreadPool> m_pool;
  std::unique_ptr<Poco::Net::HTTPServer> m_server;
  std::atomic<bool> m_stopping{false};
  std::uint16_t m_port = 0;
};

/// The request target for the log: query parameters named signature, token or sig get
/// "***" as value; `secret` (when not empty) is masked wherever it appears.
std::string redact_target(const std::string& raw_target, const std::string& secret);

} // namespace shared::server
