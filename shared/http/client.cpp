#include "shared/http/client.hpp"

#include "shared/error/error.hpp"
#include "shared/format/units.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/url.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <istream>
#include <mutex>
#include <zlib.h>

namespace shared::http {
namespace {

constexpr std::size_t k_buffer_size = 256 * 1024;
constexpr std::uint64_t k_max_drain = 1u << 20; // an error body longer than this closes the session

// A failure worth retrying: network trouble, a short body, a broken gzip stream.
class Transient : public std::runtime_error {
public:
  Transient(const std::string& message, bool before_response)
      : std::runtime_error(message), before_response(before_response) {}
  bool before_response; // nothing of the response was received (a stale keep-alive connection)
};

// Poco's sessions keep read() protected; the body of a fixed-length response is read
// through it in large blocks instead of the 4 KiB reads of Poco's body streams.
template <class Base>
class ReadableSession : public Base {
public:
  using Base::Base;
  int read_raw(char* buffer, std::streamsize length) { return this->read(buffer, length); }
};

Poco::Timespan seconds(double value) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(value * 1e6));
}

bool equals_ignoring_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Streams a gzip member (RFC 1952) through zlib into the sink.
class GzipDecoder {
public:
  GzipDecoder() {
    if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) {
      throw std::runtime_error("inflateInit2 failed");
    }
  }
  ~GzipDecoder() { inflateEnd(&m_stream); }
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  void feed(const char* data, std::size_t size, BodySink& sink) {
    m_stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    m_stream.avail_in = static_cast<uInt>(size);
    while (m_stream.avail_in > 0 && !m_done) {
      m_stream.next_out = reinterpret_cast<Bytef*>(m_out);
      m_stream.avail_out = sizeof m_out;
      const int rc = inflate(&m_stream, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        throw Transient("broken gzip stream (" +
                            std::string(m_stream.msg ? m_stream.msg : "zlib error") + ")",
                        false);
      }
      sink.write(m_out, sizeof m_out - m_stream.avail_out);
      m_done = rc == Z_STREAM_END;
    }
  }

  void finish() const {
    if (!m_done) {
      throw Transient("broken gzip stream (truncated)", false);
    }
  }

private:
  z_stream m_stream{};
  char m_out[64 * 1024];
  bool m_done = false;
};

std::once_flag g_ssl_once;

} // namespace

class Client::Session {
public:
  std::unique_ptr<Poco::Net::HTTPClientSession> poco;
  std::function<int(char*, std::streamsize)> read_raw;
  std::uint64_t requests = 0;
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
    if (equals_ignoring_case(key, name)) {
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

void Client::drop_session() {
  m_session.reset();
  m_session_key.clear();
}

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
    auto* poco = new ReadableSession<Poco::Net::HTTPSClientSession>(host, port, m_options.tls);
    session->poco.reset(poco);
    session->read_raw = [poco](char* b, std::streamsize n) { return poco->read_raw(b, n); };
  } else {
    auto* poco = new ReadableSession<Poco::Net::HTTPClientSession>(host, port);
    session->poco.reset(poco);
    session->read_raw = [poco](char* b, std::streamsize n) { return poco->read_raw(b, n); };
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

Response Client::request(const std::string& method, const std::string& url, BodySink* sink,
                         const Headers& headers) {
  const RetryPolicy& policy = m_options.retry;
  for (int retry = 0;; ++retry) {
    std::string reason;
    std::optional<double> retry_after;
    try {
      Response response = exchange(method, url, sink, headers);
      if (!is_retryable_status(response.status)) {
        return response;
      }
      reason = std::to_string(response.status) + " " + response.reason;
      retry_after =
          parse_retry_after(response.header("Retry-After"), std::chrono::system_clock::now());
      if (retry >= policy.retries) {
        throw HttpStatusError(response.status, method + " " + redact(response.url) + ": " + reason +
                                                   " (after " + std::to_string(retry) +
                                                   " retries)");
      }
    } catch (const Transient& e) {
      drop_session();
      reason = e.what();
      if (retry >= policy.retries) {
        throw NetworkError(method + " " + redact(url) + ": " + reason + " (after " +
                           std::to_string(retry) + " retries)");
      }
    }
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

Response Client::exchange(const std::string& method, const std::string& url, BodySink* sink,
                          const Headers& headers) {
  std::string current = url;
  std::string first_host;
  try {
    first_host = Poco::URI(url).getHost();
  } catch (const Poco::Exception& e) {
    throw NetworkError("bad URL \"" + redact(url) + "\": " + e.message());
  }
  for (int hop = 0;; ++hop) {
    bool redirect = false;
    Response response;
    try {
      response = exchange_once(method, current, first_host, sink, headers, redirect);
    } catch (const Transient& e) {
      // A reused keep-alive connection the server had closed: one fresh try, not a retry.
      if (!e.before_response || !m_session || m_session->requests <= 1) {
        throw;
      }
      drop_session();
      response = exchange_once(method, current, first_host, sink, headers, redirect);
    }
    if (!redirect) {
      return response;
    }
    if (hop + 1 > m_options.max_redirects) {
      throw NetworkError(method + " " + redact(url) + ": more than " +
                         std::to_string(m_options.max_redirects) + " redirects");
    }
    current = response.url;
  }
}

Response Client::exchange_once(const std::string& method, const std::string& url,
                               const std::string& first_host, BodySink* sink,
                               const Headers& headers, bool& redirect) {
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    throw NetworkError("bad URL \"" + redact(url) + "\": " + e.message());
  }
  const std::string scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https") {
    throw NetworkError("unsupported URL scheme \"" + scheme + "\" in " + redact(url));
  }
  Session* session = &session_for(scheme, uri.getHost(), uri.getPort());
  const bool reused = session->requests > 0;
  Response response;
  response.url = url;
  bool received = false;
  try {
    std::string target = uri.getPathEtc();
    if (target.empty()) {
      target = "/";
    }
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("User-Agent", m_options.user_agent);
    request.set("Accept-Encoding", "gzip");
    request.setKeepAlive(true);
    if (uri.getHost() == first_host) { // credentials never follow a redirect to another host
      if (!m_options.bearer_token.empty()) {
        request.set("Authorization", "Bearer " + m_options.bearer_token);
      } else if (!m_options.username.empty()) {
        Poco::Net::HTTPBasicCredentials(m_options.username, m_options.password)
            .authenticate(request);
      }
    }
    for (const auto& [name, value] : headers) {
      request.set(name, value);
    }
    if (!reused) {
      ++m_connections;
    }
    ++session->requests;
    session->poco->sendRequest(request);
    Poco::Net::HTTPResponse poco_response;
    std::istream& body = session->poco->receiveResponse(poco_response);
    received = true;

    response.status = static_cast<int>(poco_response.getStatus());
    response.reason = poco_response.getReason();
    for (const auto& [name, value] : poco_response) {
      response.headers.emplace_back(name, value);
    }
    const bool chunked = poco_response.getChunkedTransferEncoding();
    if (poco_response.hasContentLength() && !chunked) {
      response.content_length = static_cast<std::uint64_t>(poco_response.getContentLength64());
    }
    const bool has_body = method != Poco::Net::HTTPRequest::HTTP_HEAD && response.status != 204 &&
                          response.status != 304;

    const bool success = response.status >= 200 && response.status < 300;
    redirect = response.status == 301 || response.status == 302 || response.status == 303 ||
               response.status == 307 || response.status == 308;
    if (redirect) {
      const std::string location = poco_response.get("Location", "");
      if (location.empty()) {
        redirect = false;
      } else {
        Poco::URI next(uri);
        next.resolve(location);
        response.url = next.toString();
      }
    }
    if (!success || sink == nullptr || !has_body) {
      // Read what is small to its end so the connection can be reused; close otherwise.
      if (has_body && (!response.content_length || *response.content_length > k_max_drain)) {
        drop_session();
      } else if (has_body) {
        body.ignore(static_cast<std::streamsize>(*response.content_length));
      }
      if (!success && !redirect && !is_retryable_status(response.status)) {
        throw HttpStatusError(response.status, method + " " + redact(url) + ": " +
                                                   std::to_string(response.status) + " " +
                                                   response.reason);
      }
      return response;
    }

    sink->start(response);
    const bool gzip = poco_response.get("Content-Encoding", "").find("gzip") != std::string::npos;
    std::optional<GzipDecoder> decoder;
    if (gzip) {
      decoder.emplace();
    }
    auto deliver = [&](const char* data, std::size_t size) {
      if (decoder) {
        decoder->feed(data, size, *sink);
      } else {
        sink->write(data, size);
      }
    };
    char* buffer = m_buffer.get();
    if (response.content_length) {
      std::uint64_t remaining = *response.content_length;
      while (remaining > 0) {
        const auto want =
            static_cast<std::streamsize>(std::min<std::uint64_t>(remaining, k_buffer_size));
        const int n = session->read_raw(buffer, want);
        if (n <= 0) {
          throw Transient("body ended after " +
                              std::to_string(*response.content_length - remaining) + " of " +
                              std::to_string(*response.content_length) + " bytes (Content-Length)",
                          false);
        }
        remaining -= static_cast<std::uint64_t>(n);
        deliver(buffer, static_cast<std::size_t>(n));
      }
    } else {
      while (body.read(buffer, k_buffer_size) || body.gcount() > 0) {
        deliver(buffer, static_cast<std::size_t>(body.gcount()));
      }
      if (body.bad()) {
        throw Transient("body could not be read to its end", false);
      }
    }
    if (decoder) {
      decoder->finish();
    }
    return response;
  } catch (const Poco::Net::SSLException& e) {
    drop_session();
    throw NetworkError(method + " " + redact(url) + ": TLS: " + e.displayText());
  } catch (const Poco::Exception& e) {
    drop_session();
    throw Transient(e.displayText(), !received && reused);
  } catch (const std::ios_base::failure& e) {
    drop_session();
    throw Transient(e.what(), !received && reused);
  }
}

} // namespace shared::http
