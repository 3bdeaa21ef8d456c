#include "shared/server/service.hpp"

#include "shared/error/error.hpp"
#include "shared/server/response_body.hpp"
#include "shared/server/signed_link.hpp"
#include "shared/zip/io.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace shared::server {

std::string redact_target(const std::string& raw_target, const std::string& secret) {
  std::string out = raw_target;
  const auto question = out.find('?');
  if (question != std::string::npos) {
    std::string query = out.substr(question + 1);
    std::string redacted;
    std::size_t start = 0;
    while (start <= query.size()) {
      auto amp = query.find('&', start);
      if (amp == std::string::npos) {
        amp = query.size();
      }
      std::string pair = query.substr(start, amp - start);
      const auto equals = pair.find('=');
      const std::string name = pair.substr(0, equals);
      if (equals != std::string::npos &&
          (name == "signature" || name == "sig" || name == "token")) {
        pair = name + "=***";
      }
      redacted += (start == 0 ? "" : "&") + pair;
      start = amp + 1;
    }
    out = out.substr(0, question + 1) + redacted;
  }
  if (!secret.empty()) {
    for (auto at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
      out.replace(at, secret.size(), "***");
    }
  }
  return out;
}

namespace {

// One request: route, check, answer, log.
class RequestHandler : public Poco::Net::HTTPRequestHandler {
public:
  RequestHandler(const Router& router, const ServiceOptions& options, log::Logger& logger,
                 const std::atomic<bool>& stopping)
      : m_router(router), m_options(options), m_logger(logger), m_stopping(stopping) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const auto start = std::chrono::steady_clock::now();
    Exchange exchange(request, response);
    exchange.chunk_delay = m_options.chunk_delay;
    exchange.send_timeout = m_options.timeout;
    exchange.stopping = &m_stopping;
    try {
      answer(exchange);
    } catch (const HttpError& e) {
      fail(exchange, e.status(), e.what());
    } catch (const zip::SinkClosed&) {
      exchange.client_gone = true;
    } catch (const std::exception& e) {
      exchange.note = e.what();
      fail(exchange, 500, "the server could not answer this request");
    }
    if (m_options.log_requests) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char timing[32];
      std::snprintf(timing, sizeof timing, "%.3f", seconds);
      std::string line = request.getMethod() + " " +
                         redact_target(request.getURI(), m_options.secret) + " " +
                         std::to_string(static_cast<int>(response.getStatus())) + " " +
                         std::to_string(exchange.body_bytes) + " bytes " + timing + " s " +
                         request.clientAddress().toString();
      if (exchange.client_gone) {
        line += " (client went away)";
      }
      if (!exchange.note.empty()) {
        line += " (" + exchange.note + ")";
      }
      m_logger.info(line);
    }
  }

private:
  void answer(Exchange& exchange) {
    exchange.target = split_target(exchange.request.getURI());
    const std::string& method = exchange.request.getMethod();
    const std::string& path = exchange.target.path;
    if (method == "OPTIONS") {
      const auto methods = m_router.allowed(path);
      if (methods.empty() && path != "*") {
        throw HttpError(404, "The archive does not exist or has been deleted.");
      }
      exchange.response.set("Allow",
                            join(methods.empty() ? std::vector<std::string>{"OPTIONS"} : methods));
      exchange.response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      exchange.response.setContentLength(0);
      exchange.response.send().flush();
      return;
    }
    const Router::Route* route = m_router.find(method, path, exchange);
    if (route == nullptr) {
      const auto methods = m_router.allowed(path);
      if (methods.empty()) {
        throw HttpError(404, "The archive does not exist or has been deleted.");
      }
      exchange.response.set("Allow", join(methods));
      throw HttpError(405, "This method is not allowed here.");
    }
    exchange.query = parse_query(exchange.target.query);
    if (route->options.signed_link && !m_options.secret.empty()) {
      check_signature(exchange);
    }
    route->handler(exchange);
  }

  void check_signature(const Exchange& exchange) const {
    switch (check_link(m_options.secret, exchange.target.path, exchange.query,
                       static_cast<std::int64_t>(std::time(nullptr)))) {
    case LinkCheck::valid:
      return;
    case LinkCheck::unsigned_link:
      throw HttpError(403, "This link needs a signature.");
    case LinkCheck::malformed:
    case LinkCheck::bad_signature:
      throw HttpError(403, "This link's signature is not valid.");
    case LinkCheck::expired:
      throw HttpError(403, "This link has expired.");
    }
  }

  // An error answer, when nothing was sent yet; else the connection is ended.
  void fail(Exchange& exchange, int status, const std::string& message) {
    if (exchange.response.sent()) {
      if (exchange.note.empty()) {
        exchange.note = message;
      }
      exchange.response.setKeepAlive(false);
      return;
    }
    if (exchange.note.empty() && status != 404) {
      exchange.note = message;
    }
    try {
      send_page(exchange, status, message);
    } catch (const std::exception&) {
      exchange.client_gone = true;
    }
  }

  static std::string join(const std::vector<std::string>& methods) {
    std::string out;
    for (const auto& m : methods) {
      out += (out.empty() ? "" : ", ") + m;
    }
    return out;
  }

  const Router& m_router;
  const ServiceOptions& m_options;
  log::Logger& m_logger;
  const std::atomic<bool>& m_stopping;
};

} // namespace

class Service::Dispatcher : public Poco::Net::HTTPRequestHandlerFactory {
public:
  Dispatcher(const Router& router, ServiceOptions options, log::Logger& logger,
             const std::atomic<bool>& stopping)
      : m_router(router), m_options(std::move(options)), m_logger(logger), m_stopping(stopping) {}

  Poco::Net::HTTPRequestHandler*
  createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(m_router, m_options, m_logger, m_stopping);
  }

private:
  const Router& m_router;
  ServiceOptions m_options;
  log::Logger& m_logger;
  const std::atomic<bool>& m_stopping;
};

Service::Service(const Router& router, const ServiceOptions& options, log::Logger& logger) {
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress(options.host, options.port), true,
                false); // no SO_REUSEPORT
    socket.listen(options.queue);
  } catch (const Poco::Exception& e) {
    throw error::UsageError("--host/--port: cannot listen on " + options.host + ":" +
                            std::to_string(options.port) + ": " + e.displayText());
  }
  m_port = socket.address().port();
  auto params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options.threads);
  params->setMaxQueued(options.queue);
  params->setTimeout(Poco::Timespan(options.timeout, 0));
  // Idle connection threads look at the stop flag this often. Poco 1.11 (Debian 12) wakes only
  // one of them on stop() (fixed upstream in pocoproject/poco#3797); the others would wait out
  // the default 10 s, and stop() with them. (Spare threads also end after this long idle, so a
  // burst of clients starts some again: cheap next to a request.)
  params->setThreadIdleTime(Poco::Timespan(0, 250 * 1000));
  params->setKeepAlive(true);
  params->setServerName("download-dir-zip");
  params->setSoftwareVersion("download-dir-zip");
  m_pool = std::make_unique<Poco::ThreadPool>(2, options.threads, 60);
  m_server = std::make_unique<Poco::Net::HTTPServer>(
      new Dispatcher(router, options, logger, m_stopping), *m_pool, socket, params);
  m_server->start();
}

Service::~Service() {
  stop();
}

void Service::stop() {
  if (!m_server) {
    return;
  }
  m_stopping = true;
  m_server->stopAll(true);
  m_pool->joinAll();
  m_server.reset();
  m_pool.reset();
}

} // namespace shared::server
