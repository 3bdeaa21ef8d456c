// The HTTP client every task shares: one keep-alive Poco::Net session per client (one client
// per worker), retries with backoff and Retry-After, redirects, gzip, length checks, proxies,
// TLS, authentication. Protocol: HTTP/1.1 (RFC 9110, RFC 9112).
#pragma once

#include "shared/http/proxy.hpp"
#include "shared/http/retry.hpp"
#include "shared/log/logger.hpp"

#include <Poco/Net/Context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shared::http {

/// Settings shared by every client of a run.
struct ClientOptions {
  RetryPolicy retry;
  double connect_timeout = 30; ///< seconds
  double read_timeout = 60;    ///< seconds a connection may stay silent
  std::string user_agent = "artifact-tasks";
  std::string bearer_token; ///< "Authorization: Bearer …" when not empty
  std::string username;     ///< Basic authentication when not empty
  std::string password;
  ProxySettings proxies;
  Poco::Net::Context::Ptr tls; ///< from make_tls_context(); created on first HTTPS use if null
  int max_redirects = 10;
  /// Polled while waiting between retries; when it returns true the wait throws
  /// error::Interrupted. Empty: never.
  std::function<bool()> cancelled;
};

/// A TLS client context: the system CA store, or `ca_file` (PEM) when not empty; no
/// verification at all when `insecure`. Throws error::UsageError naming caFile when it cannot
/// be loaded.
Poco::Net::Context::Ptr make_tls_context(const std::string& ca_file, bool insecure);

/// Status line and headers of a response.
struct Response {
  int status = 0;
  std::string reason;
  std::string url; ///< after redirects
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::uint64_t> content_length; ///< bytes on the wire, when given

  /// The first header called `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// Takes a response body as it streams (after gzip decoding).
class BodySink {
public:
  virtual ~BodySink() = default;
  /// A 2xx response begins.
  virtual void start(const Response& response) { (void)response; }
  /// The next `size` bytes of the body. May throw to abandon the request (not retried).
  virtual void write(const char* data, std::size_t size) = 0;
  /// A retry will send the body again from its first byte: forget what was written.
  virtual void restart() = 0;
};

/// Collects a body in memory, up to `limit` bytes (more throws NetworkError).
class StringSink : public BodySink {
public:
  explicit StringSink(std::size_t limit = 64u << 20) : m_limit(limit) {}
  void write(const char* data, std::size_t size) override;
  void restart() override { m_body.clear(); }
  const std::string& body() const { return m_body; }

private:
  std::size_t m_limit;
  std::string m_body;
};

/// Extra request headers.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// One worker's HTTP client. Not thread-safe. Errors: HttpStatusError for a status that is
/// not retried or that persisted, NetworkError when network failures or broken bodies
/// (BrokenBody) outlived the retries, error::Interrupted when cancelled, and whatever the sink
/// throws.
class Client {
public:
  Client(const ClientOptions& options, log::Logger& logger);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// GETs `url` into `sink`, following redirects and retrying as the options say.
  Response get(const std::string& url, BodySink& sink, const Headers& headers = {});

  /// GETs a small body as text.
  std::string get_text(const std::string& url, std::size_t limit = 64u << 20);

  /// HEAD `url` (redirects followed, retried as get).
  Response head(const std::string& url, const Headers& headers = {});

  /// Sends `method` (PUT, POST, DELETE …) to `url` with `body` (sent with Content-Length,
  /// again in full on every retry and on a 307/308 redirect), retried as get; a 2xx response
  /// body goes to `sink` when given, else is drained. Used for object-store uploads (e.g.
  /// Azure Put Block), whose bodies are held in memory by the caller.
  Response send(const std::string& method, const std::string& url, std::string_view body,
                const Headers& headers = {}, BodySink* sink = nullptr);

  /// Retries made so far by this client.
  std::uint64_t retries() const { return m_retries; }

  /// TCP connections opened so far by this client.
  std::uint64_t connections() const { return m_connections; }

private:
  class Session;
  struct Attempt;
  Response request(const std::string& method, const std::string& url, BodySink* sink,
                   const Headers& headers, const std::string_view* body = nullptr);
  Attempt follow_redirects(const std::string& method, const std::string& url, BodySink* sink,
                           const Headers& headers, const std::string_view* body);
  Attempt exchange(const std::string& method, const std::string& url, const std::string& origin,
                   BodySink* sink, const Headers& headers, const std::string_view* body);
  void receive_body(Session& session, const std::string& method, const Attempt& attempt,
                    BodySink& sink);
  void discard_body(Session& session, const Attempt& attempt);
  Session& session_for(const std::string& scheme, const std::string& host, std::uint16_t port);
  void drop_session();

  ClientOptions m_options;
  log::Logger& m_logger;
  std::unique_ptr<Session> m_session;
  std::string m_session_key;
  std::unique_ptr<char[]> m_buffer;
  std::mt19937_64 m_random;
  std::uint64_t m_retries = 0;
  std::uint64_t m_connections = 0;
};

} // namespace shared::http
