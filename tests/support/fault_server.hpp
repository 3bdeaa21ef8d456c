// FaultServer imitates a web artifact store (like nginx serving files) that misbehaves on
// purpose: an HTTP/1.1 server on 127.0.0.1 for integration tests of an HTTP download client.
// It keeps connections alive, answers byte ranges, and on request breaks replies in the ways
// real servers and networks do (resets, short bodies, slow bodies, broken gzip, ...). It
// records every request and counts requests and TCP connections.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tests::support {

/// One scripted reply: what the server answers, and how it breaks the answer.
///
/// The server adds `Content-Length` (or `Transfer-Encoding: chunked`), `Content-Type:
/// application/octet-stream`, `Connection` and, where ranges are honoured, `Accept-Ranges`; a
/// header of the same name in `headers` replaces the server's (so a test can lie, e.g. about
/// Content-Length), but what the server does on the wire depends only on `fault`. Faults
/// that break a reply unexpectedly (reset_mid_body, short_body, drop_keep_alive) announce
/// `Connection: keep-alive`, as a server that fails mid-reply would; "half" is size / 2 bytes.
struct FaultReply {
  /// How the reply is broken.
  enum class Fault {
    none,              ///< a correct reply
    reset_mid_body,    ///< full Content-Length, half the body, then RST (SO_LINGER 0, close)
    short_body,        ///< full Content-Length, half the body, then a clean close (FIN)
    gzip,              ///< body gzip-compressed, `Content-Encoding: gzip`, Content-Length =
                       ///< compressed size (bytes)
    broken_gzip,       ///< like gzip but only the first half of the compressed stream is
                       ///< sent; Content-Length matches what is sent (connection kept)
    drip,              ///< full Content-Length, body sent one byte every drip_interval_ms
    chunked,           ///< `Transfer-Encoding: chunked` instead of Content-Length
    chunked_truncated, ///< chunked, but a clean close after half the body, before the last chunk
    close_after,       ///< a correct reply with `Connection: close`, then a clean close
    no_content_length, ///< no Content-Length: the body ends when the connection is closed
    drop_keep_alive,   ///< a correct reply announcing `Connection: keep-alive`, then a clean
                       ///< close anyway (like an expired keepalive_timeout): the client's next
                       ///< request on this connection meets a closed connection
  };

  int status = 200;                                         ///< HTTP status code
  std::vector<std::pair<std::string, std::string>> headers; ///< extra headers, in order
  std::string body;                                         ///< the (uncompressed) body
  Fault fault = Fault::none;
  int drip_interval_ms = 100; ///< Fault::drip: milliseconds between two bytes of the body
  int delay_ms = 0;           ///< milliseconds to wait before sending anything (any fault)
};

/// A request as the server received it.
struct RecordedRequest {
  std::string method;                         ///< e.g. "GET"
  std::string target;                         ///< as sent, query included, e.g. "/a?x=1"
  std::map<std::string, std::string> headers; ///< lower-cased names; repeats joined by ", "
  int connection_id = 0;                      ///< 1 for the first TCP connection accepted, ...
};

/// Fault-injecting HTTP/1.1 server on 127.0.0.1 and a free port; runs from construction to
/// destruction. Thread-safe: routes may be changed and counters read while it runs.
///
/// Behaviour: paths match the request target without its query, exactly. Unknown paths get
/// 404. HEAD gets the headers GET would get and no body. Connections are kept alive (several
/// requests each) unless the client sends `Connection: close` or the fault closes them.
/// `Range: bytes=a-b`, `bytes=a-` and `bytes=-n` (one range) on a status 200 reply whose fault
/// is not gzip/broken_gzip give 206 with Content-Range (the fault then applies to the part),
/// or 416 when unsatisfiable; other Range values are ignored (200, whole body).
class FaultServer {
public:
  /// Listens on 127.0.0.1, port chosen by the OS; throws Poco::Exception when it cannot.
  FaultServer();
  /// Stops accepting, closes every connection (even ones a client keeps open) and joins all
  /// threads; returns within about 100 milliseconds.
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  /// The TCP port listened on.
  int port() const { return m_port; }
  /// "http://127.0.0.1:<port>" + path.
  std::string url(const std::string& path) const;

  /// Routes `path`: successive requests for it get replies[0], replies[1], ...; the last one
  /// repeats. Replaces any previous route for `path` (and restarts its sequence). An empty
  /// `replies` removes the route (404).
  void on(const std::string& path, std::vector<FaultReply> replies);
  /// Serves `body` with status 200 to every request for `path`.
  void serve(const std::string& path, std::string body);
  /// Answers every request for `from` with `status` and `Location: to`, sent verbatim (an
  /// absolute URL, e.g. url("/b"), or a path).
  void redirect(const std::string& from, const std::string& to, int status = 302);

  /// Requests received so far whose target without query is `path` (404s included).
  std::size_t request_count(const std::string& path) const;
  /// Every request received so far, in order of arrival.
  std::vector<RecordedRequest> requests() const;
  /// TCP connections accepted so far.
  std::size_t connection_count() const;

private:
  struct Route {
    std::vector<FaultReply> replies;
    std::size_t next = 0;
  };
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  struct Request;

  void accept_loop();
  void serve_connection(Poco::Net::StreamSocket socket, int connection_id);
  bool answer(Poco::Net::StreamSocket& socket, const Request& request, const FaultReply& reply);
  bool send_all(Poco::Net::StreamSocket& socket, const char* data, std::size_t size);
  bool wait_ms(int milliseconds);
  bool wait_until_sent(Poco::Net::StreamSocket& socket);
  void close_cleanly(Poco::Net::StreamSocket& socket);
  void reset(Poco::Net::StreamSocket& socket);

  Poco::Net::ServerSocket m_listener;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};

  mutable std::mutex m_mutex; // guards everything below
  std::condition_variable m_stop_cv;
  std::map<std::string, Route> m_routes;
  std::map<std::string, std::size_t> m_request_counts;
  std::vector<RecordedRequest> m_requests;
  std::size_t m_connection_count = 0;
  std::list<std::unique_ptr<Connection>> m_connections;

  std::thread m_accept_thread; // last: started once everything else exists
};

} // namespace tests::support
