#include "shared/http/client.hpp"

#include "shared/error/error.hpp"
#include "shared/format/units.hpp"
#include "shared/http/body_reader.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/gzip_decoder.hpp"
#include "shared/http/message.hpp"
#include "shared/http/url.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <chrono>
#include <ios>
#include <mutex>
#include <ostream>

namespace shared::http {
namespace {

constexpr std::size_t k_buffer_size = 256 * 1024; // bytes: one read of a body
constexpr std::uint64_t k_max_drain = 1u << 20; // bytes: a longer unwanted body closes the session

// A request body that could not be sent: worth retrying, as a network failure is.
class Transient : public error::Error {
public:
  explicit Transient(const std::string& message)
      : error::Error(error::ExitCode::network, message) {}
};

// A Poco timespan of `value` seconds.
Poco::Timespan seconds(double value) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(value * 1e6));
}

// `url` parsed; throws NetworkError for one Poco cannot parse.
Poco::URI parse_url(const std::string& url) {
  try {
    return Poco::URI(url);
  } catch (const Poco::Exception& e) {
    throw NetworkError("bad URL \"" + redact(url) + "\": " + e.message());
  }
}

// "scheme://host:port" with the host in lower case: credentials stay within one origin.
std::string origin_of(const Poco::URI& uri) {
  return uri.getScheme() + "://" + Poco::toLower(uri.getHost()) + ":" +
         std::to_string(uri.getPort());
}

// Whether a failure happened on a reused connection before any of the response arrived,
// the way a keep-alive connection the server has closed fails.
bool is_stale_connection(const Poco::Exception& e) {
  return dynamic_cast<const Poco::Net::NoMessageException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Net::ConnectionResetException*>(&e) != nullptr ||
         dynamic_cast<const Poco::Net::ConnectionAbortedException*>(&e) != nullptr;
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

// Sends `request` with `body` (when not null) after it, as Content-Length bytes.
void send_request(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
                  const std::string_view* body) {
  if (body != nullptr) {
    request.setContentLength64(static_cast<Poco::Int64>(body->size()));
  }
  std::ostream& out = session.sendRequest(request);
  if (body != nullptr && !body->empty()) {
    out.write(body->data(), static_cast<std::streamsize>(body->size()));
    out.flush();
    if (!out) {
      throw Transient("the request body could not be sent");
    }
  }
}

std::once_flag g_ssl_once;

} // namespace

// One keep-alive connection (through a proxy or not) and the requests it has carried.
class Client::Session {
public:
  std::unique_ptr<Poco::Net::HTTPClientSession> poco;
  std::uint64_t requests = 0;
};

// The outcome of one exchange: a response, or a failure worth retrying.
struct Client::Attempt {
  Response response;
  Framing framing = Framing::none;
  std::string redirect; // the URL a redirect points to; "" when the response is not one
  std::string failure;  // why the exchange failed; "" when `response` is the answer
  bool stale = false;   // failed on a reused connection before any response: one fresh try

  static Attempt failed(const std::string& why, bool stale_connection = false) {
    Attempt attempt;
    attempt.failure = why;
    attempt.stale = stale_connection;
    return attempt;
  }
};

Poco::Net::Context::Ptr make_tls_context(const std::string& ca_file, bool insecure) {
  std::call_once(g_ssl_once, [] { Poco::Net::initializeSSL(); });
  Poco::Net::Context::Params params;
  params.verificationMode =
      insecure ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT;
  params.loadDefaultCAs = ca_file.empty();
  params.caLocation = ca_file;
  try {
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  } catch (const Poco::Exception& e) {
    throw error::UsageError("--ca-file: cannot load \"" + ca_file + "\": " + e.displayText());
  }
}

std::string Response::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (Poco::icompare(key, name) == 0) {
      return value;
    }
  }
  return {};
}

void StringSink::write(const char* data, std::size_t size) {
  if (m_body.size() + size > m_limit) {
    throw NetworkError("response body larger than " + format::bytes(m_limit));
  }
  m_body.append(data, size);
}

Client::Client(const ClientOptions& options, log::Logger& logger)
    : m_options(options), m_logger(logger), m_buffer(new char[k_buffer_size]),
      m_random(std::random_device{}()) {}

Client::~Client() = default;

Response Client::get(const std::string& url, BodySink& sink, const Headers& headers) {
  return request(Poco::Net::HTTPRequest::HTTP_GET, url, &sink, headers);
}

std::string Client::get_text(const std::string& url, std::size_t limit) {
  StringSink sink(limit);
  get(url, sink);
  return sink.body();
}

Response Client::head(const std::string& url, const Headers& headers) {
  return request(Poco::Net::HTTPRequest::HTTP_HEAD, url, nullptr, headers);
}

Response Client::send(const std::string& method, const std::string& url, std::string_view body,
                      const Headers& headers, BodySink* sink) {
  return request(method, url, sink, headers, &body);
}

void Client::drop_session() {
  m_session.reset();
  m_session_key.clear();
}

// The session for scheme://host:port through the proxy the options give for it: the current
// one when it is that, else a new one (and the current connection closed).
Client::Session& Client::session_for(const std::string& scheme, const std::string& host,
                                     std::uint16_t port) {
  const auto proxy = m_options.proxies.proxy_for(scheme, host, port);
  const std::string key = scheme + "://" + host + ":" + std::to_string(port) +
                          (proxy ? " via " + proxy->host + ":" + std::to_string(proxy->port) : "");
  if (m_session && key == m_session_key) {
    return *m_session;
  }
  auto session = std::make_unique<Session>();
  if (scheme == "https") {
    if (!m_options.tls) {
      m_options.tls = make_tls_context("", false);
    }
    session->poco = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, m_options.tls);
  } else {
    session->poco = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
  }
  if (proxy) {
    session->poco->setProxy(proxy->host, proxy->port);
    if (!proxy->username.empty()) {
      session->poco->setProxyCredentials(proxy->username, proxy->password);
    }
  }
  session->poco->setKeepAlive(true);
  session->poco->setTimeout(seconds(m_options.connect_timeout), seconds(m_options.read_timeout),
                            seconds(m_options.read_timeout));
  m_session = std::move(session);
  m_session_key = key;
  return *m_session;
}

// The retry loop: a retryable status or failure waits (Retry-After, else backoff), restarts
// the sink and tries again, until the policy's retries are spent.
Response Client::request(const std::string& method, const std::string& url, BodySink* sink,
                         const Headers& headers, const std::string_view* body) {
  const RetryPolicy& policy = m_options.retry;
  for (int retry = 0;; ++retry) {
    const Attempt attempt = follow_redirects(method, url, sink, headers, body);
    const bool answered = attempt.failure.empty();
    const Response& response = attempt.response;
    const std::string status = std::to_string(response.status) + " " + response.reason;
    if (answered && !is_retryable_status(response.status)) {
      if (!is_success(response.status)) {
        throw HttpStatusError(response.status, method + " " + redact(response.url) + ": " + status);
      }
      return response;
    }
    const std::string reason = answered ? status : attempt.failure;
    if (retry >= policy.retries) {
      const std::string message = method + " " + redact(answered ? response.url : url) + ": " +
                                  reason + " (after " + std::to_string(retry) + " retries)";
      if (answered) {
        throw HttpStatusError(response.status, message);
      }
      throw NetworkError(message);
    }
    const auto retry_after = answered ? parse_retry_after(response.header("Retry-After"),
                                                          std::chrono::system_clock::now())
                                      : std::nullopt;
    const double delay = retry_wait(policy, retry + 1, retry_after, m_random);
    m_logger.info("retry " + std::to_string(retry + 1) + "/" + std::to_string(policy.retries) +
                  " in " + format::duration(delay) + ": " + method + " " + redact(url) + ": " +
                  reason);
    ++m_retries;
    sleep_unless_cancelled(delay, m_options.cancelled);
    if (sink != nullptr) {
      sink->restart();
    }
  }
}

// Exchanges until a response that is not a redirect, or a failure. A failure on a reused
// connection before any response (the server had closed it) gets one fresh try, not a retry.
Client::Attempt Client::follow_redirects(const std::string& method, const std::string& url,
                                         BodySink* sink, const Headers& headers,
                                         const std::string_view* body) {
  const std::string origin = origin_of(parse_url(url));
  std::string current = url;
  for (int hop = 0;; ++hop) {
    Attempt attempt = exchange(method, current, origin, sink, headers, body);
    if (attempt.stale) {
      attempt = exchange(method, current, origin, sink, headers, body);
    }
    if (attempt.redirect.empty()) {
      return attempt;
    }
    if (hop + 1 > m_options.max_redirects) {
      throw NetworkError(method + " " + redact(url) + ": more than " +
                         std::to_string(m_options.max_redirects) + " redirects");
    }
    current = attempt.redirect;
  }
}

// One request and its response on the session for `url`. The body of a 2xx response goes to
// `sink` (when given); any other body is discarded. Network failures, a body cut short or
// malformed come back as a failed Attempt; TLS failures throw NetworkError, and what the sink
// throws passes through (the session is dropped: the rest of the body is on it).
Client::Attempt Client::exchange(const std::string& method, const std::string& url,
                                 const std::string& origin, BodySink* sink, const Headers& headers,
                                 const std::string_view* body) {
  const Poco::URI uri = parse_url(url);
  if (uri.getScheme() != "http" && uri.getScheme() != "https") {
    throw NetworkError("unsupported URL scheme \"" + uri.getScheme() + "\" in " + redact(url));
  }
  Session& session = session_for(uri.getScheme(), uri.getHost(), uri.getPort());
  const bool reused = session.requests > 0;
  m_connections += reused ? 0 : 1;
  ++session.requests;
  bool answered = false;
  try {
    Poco::Net::HTTPRequest request =
        make_request(method, uri, origin_of(uri) == origin, headers, m_options);
    send_request(*session.poco, request, body);
    Poco::Net::HTTPResponse head;
    session.poco->receiveResponse(head);
    answered = true;
    Attempt attempt;
    attempt.response = to_response(head, url);
    attempt.framing = framing_of(method, head, attempt.response);
    attempt.redirect = redirect_target(head, uri);
    if (is_success(attempt.response.status) && sink != nullptr &&
        attempt.framing != Framing::none) {
      receive_body(session, method, attempt, *sink);
    } else {
      discard_body(session, attempt);
    }
    return attempt;
  } catch (const Poco::Net::SSLException& e) {
    drop_session();
    throw NetworkError(method + " " + redact(url) + ": TLS: " + e.displayText());
  } catch (const Poco::Exception& e) {
    drop_session();
    return Attempt::failed(e.displayText(), !answered && reused && is_stale_connection(e));
  } catch (const std::ios_base::failure& e) {
    drop_session();
    return Attempt::failed(e.what());
  } catch (const Transient& e) {
    drop_session();
    return Attempt::failed(e.what());
  } catch (const BrokenBody& e) {
    drop_session();
    return Attempt::failed(e.what());
  } catch (...) {
    drop_session(); // a sink gave up mid-body: the rest of it is still on the connection
    throw;
  }
}

// The body of a 2xx response into `sink`, gzip-decoded when it is coded so.
void Client::receive_body(Session& session, const std::string& method, const Attempt& attempt,
                          BodySink& sink) {
  sink.start(attempt.response);
  std::optional<GzipDecoder> gzip;
  if (is_gzip_coded(method, attempt.response)) {
    gzip.emplace();
  }
  const Deliver to_sink = [&sink](const char* data, std::size_t size) { sink.write(data, size); };
  Deliver deliver = to_sink;
  if (gzip) {
    deliver = [&](const char* data, std::size_t size) { gzip->feed(data, size, to_sink); };
  }
  BodyReader reader(*session.poco, m_buffer.get(), k_buffer_size);
  switch (attempt.framing) {
  case Framing::content_length:
    reader.read_exactly(*attempt.response.content_length, deliver);
    break;
  case Framing::chunked:
    reader.read_chunked(deliver);
    break;
  case Framing::connection_close:
    reader.read_to_close(deliver);
    drop_session();
    break;
  case Framing::none:
    break;
  }
  if (gzip) {
    gzip->finish();
  }
}

// Reads a small unwanted body to its end so that the connection can carry the next request;
// a large one, or one whose end is not known, closes the connection instead.
void Client::discard_body(Session& session, const Attempt& attempt) {
  if (attempt.framing == Framing::none) {
    return;
  }
  const std::optional<std::uint64_t>& length = attempt.response.content_length;
  if (attempt.framing != Framing::content_length || *length > k_max_drain) {
    drop_session();
    return;
  }
  BodyReader reader(*session.poco, m_buffer.get(), k_buffer_size);
  try {
    if (reader.read_up_to(*length, [](const char*, std::size_t) {}) == *length) {
      return;
    }
  } catch (const Poco::Exception&) {
    // the body was not needed: losing it costs only the connection
  }
  drop_session(); // the body was cut short: the connection is not at a message boundary
}

} // namespace shared::http
