#include "shared/http/client.hpp"

#include "shared/error/error.hpp"
#include "shared/format/units.hpp"
#include "shared/http/chunked_decoder.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/gzip_decoder.hpp"
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
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <mutex>

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

Response Client::send(const std::string& method, const std::string& url, std::string_view body,
                      const Headers& headers, BodySink* sink) {
  return request(method, url, sink, headers, &body);
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
                         const Headers& headers, const std::string_view* body) {
  const RetryPolicy& policy = m_options.retry;
  for (int retry = 0;; ++retry) {
    std::string reason;
    std::optional<double> retry_after;
    try {
      Response response = exchange(method, url, sink, headers, body);
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
                          const Headers& headers, const std::string_view* body) {
  std::string current = url;
  std::string first_host;
  try {
    first_host = origin_of(Poco::URI(url));
  } catch (const Poco::Exception& e) {
    throw NetworkError("bad URL \"" + redact(url) + "\": " + e.message());
  }
  for (int hop = 0;; ++hop) {
    bool redirect = false;
    Response response;
    try {
      response = exchange_once(method, current, first_host, sink, headers, body, redirect);
    } catch (const Transient& e) {
      // A reused keep-alive connection the server had closed: one fresh try, not a retry.
      if (!e.before_response) {
        throw;
      }
      drop_session();
      response = exchange_once(method, current, first_host, sink, headers, body, redirect);
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
                               const Headers& headers, const std::string_view* body,
                               bool& redirect) {
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
    if (origin_of(uri) == first_host) { // credentials never follow a redirect to another origin
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
    if (body != nullptr) {
      request.setContentLength64(static_cast<Poco::Int64>(body->size()));
    }
    std::ostream& out = session->poco->sendRequest(request);
    if (body != nullptr && !body->empty()) {
      out.write(body->data(), static_cast<std::streamsize>(body->size()));
      out.flush();
      if (!out) {
        throw Transient("the request body could not be sent", false);
      }
    }
    Poco::Net::HTTPResponse poco_response;
    std::istream& in = session->poco->receiveResponse(poco_response);
    received = true;

    response.status = static_cast<int>(poco_response.getStatus());
    response.reason = poco_response.getReason();
    for (const auto& [name, value] : poco_response) {
      response.headers.emplace_back(name, value);
    }
    const bool chunked = poco_response.getChunkedTransferEncoding();
    if (poco_response.hasContentLength() && !chunked) {
      const auto length = poco_response.getContentLength64();
      if (length < 0) {
        throw Transient(
            "invalid Content-Length \"" + poco_response.get("Content-Length", "") + "\"", false);
      }
      response.content_length = static_cast<std::uint64_t>(length);
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
        const auto length = static_cast<std::streamsize>(*response.content_length);
        if (in.ignore(length).gcount() != length) {
          drop_session(); // the body was cut short: the connection is not at a message boundary
        }
      }
      if (!success && !redirect && !is_retryable_status(response.status)) {
        throw HttpStatusError(response.status, method + " " + redact(url) + ": " +
                                                   std::to_string(response.status) + " " +
                                                   response.reason);
      }
      return response;
    }

    sink->start(response);
    const std::string encoding =
        Poco::toLower(Poco::trim(poco_response.get("Content-Encoding", "")));
    const bool gzip = encoding == "gzip" || encoding == "x-gzip";
    if (!gzip && !encoding.empty() && encoding != "identity") {
      drop_session();
      throw NetworkError(method + " " + redact(url) + ": unsupported Content-Encoding \"" +
                         encoding + "\"");
    }
    std::optional<GzipDecoder> decoder;
    if (gzip) {
      decoder.emplace();
    }
    auto deliver = [&](const char* data, std::size_t size) {
      if (decoder) {
        decoder->feed(data, size,
                      [sink](const char* bytes, std::size_t count) { sink->write(bytes, count); });
      } else {
        sink->write(data, size);
      }
    };
    char* buffer = m_buffer.get();
    if (response.content_length) {
      read_body(*session, *response.content_length, deliver);
    } else if (chunked) {
      ChunkedDecoder chunks;
      while (!chunks.complete()) {
        const int n = session->read_raw(buffer, k_buffer_size);
        if (n <= 0) {
          throw BrokenBody("chunked body ended before its last chunk");
        }
        chunks.feed(buffer, static_cast<std::size_t>(n), deliver);
      }
    } else { // delimited by the server closing the connection
      for (int n; (n = session->read_raw(buffer, k_buffer_size)) > 0;) {
        deliver(buffer, static_cast<std::size_t>(n));
      }
      drop_session();
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
    throw Transient(e.displayText(), !received && reused && is_stale_connection(e));
  } catch (const std::ios_base::failure& e) {
    drop_session();
    throw Transient(e.what(), false);
  } catch (const BrokenBody& e) {
    drop_session();
    throw Transient(e.what(), false);
  } catch (const HttpStatusError&) {
    throw; // its body was drained: the connection stays usable
  } catch (...) {
    drop_session(); // a sink gave up mid-body: the rest of it is still on the connection
    throw;
  }
}

// A body of `length` bytes (Content-Length), read in large blocks and handed to `deliver`.
// Throws Transient when the connection ends first.
void Client::read_body(Session& session, std::uint64_t length,
                       const std::function<void(const char*, std::size_t)>& deliver) {
  char* buffer = m_buffer.get();
  std::uint64_t remaining = length;
  while (remaining > 0) {
    const auto want =
        static_cast<std::streamsize>(std::min<std::uint64_t>(remaining, k_buffer_size));
    const int n = session.read_raw(buffer, want);
    if (n <= 0) {
      throw BrokenBody("body ended after " + std::to_string(length - remaining) + " of " +
                       std::to_string(length) + " bytes (Content-Length)");
    }
    remaining -= static_cast<std::uint64_t>(n);
    deliver(buffer, static_cast<std::size_t>(n));
  }
}

} // namespace shared::http
