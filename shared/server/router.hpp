// Routes of an HTTP service built on Poco::Net::HTTPServer: a method and a path pattern per
// handler. This is where a service's features plug in: each feature registers its routes on
// one Router (see ARCHITECTURE.md, "download-dir-zip serve"), and the Service dispatches every
// request through it, answering 404/405/OPTIONS and 4xx errors itself and logging one line.
#pragma once

#include "shared/server/request_target.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shared::server {

/// One request being answered: what the router found, and what the answer did.
struct Exchange {
  Exchange(Poco::Net::HTTPServerRequest& request_, Poco::Net::HTTPServerResponse& response_)
      : request(request_), response(response_) {}

  Poco::Net::HTTPServerRequest& request;
  Poco::Net::HTTPServerResponse& response;
  RequestTarget target;                        ///< raw path and query
  std::map<std::string, std::string> params;   ///< {name} captures, decoded by decode_segment()
  std::vector<std::string> rest;               ///< the {name+} capture's segments, each decoded
  std::map<std::string, std::string> query;    ///< decoded query parameters
  double chunk_delay = 0;                      ///< seconds to wait between body writes
  int send_timeout = 60;                       ///< seconds a body write may block
  const std::atomic<bool>* stopping = nullptr; ///< set when the service stops
  std::uint64_t body_bytes = 0;                ///< body bytes sent (kept by ResponseBody)
  bool client_gone = false;                    ///< the client went away mid-answer
  std::string note;                            ///< added to the log line (e.g. an error)

  /// Whether this is a HEAD request (answer the headers of the GET, no body).
  bool head() const { return request.getMethod() == "HEAD"; }
};

/// Answers one request. May throw HttpError (the service answers it with that status and
/// a short page, unless the answer was already sent); anything else is a 500.
using Handler = std::function<void(Exchange&)>;

/// What a route needs besides its handler.
struct RouteOptions {
  /// When the service has a secret: only signed links reach the handler (signed_link.hpp);
  /// others get 403.
  bool signed_link = false;
};

/// Method + pattern → handler. Patterns are paths of segments: a literal (compared with the
/// raw segment, so "%61rchive" is not "archive"), {name} (one segment, percent-decoded and
/// checked by decode_segment(), HttpError 400 otherwise), or, last, {name+} (one or more
/// segments, each checked). A request path may end with one "/" more than its pattern.
/// A GET route answers HEAD too. Not thread-safe to modify; read-only once the service runs.
class Router {
public:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };

  /// Adds a route. Throws std::invalid_argument for a pattern that does not start with "/"
  /// or has a {name+} before its end.
  void add(const std::string& method, const std::string& pattern, Handler handler,
           RouteOptions options = {});

  /// The route for `method` (HEAD finds GET routes) and `raw_path`, with its captures filled
  /// into `exchange`, or nullptr. Throws HttpError 400 when the path matches a pattern but a
  /// captured segment is refused.
  const Route* find(const std::string& method, const std::string& raw_path,
                    Exchange& exchange) const;

  /// The methods of routes whose pattern matches `raw_path` (with HEAD where GET is, and
  /// OPTIONS), for Allow headers; empty when no pattern matches.
  std::vector<std::string> allowed(const std::string& raw_path) const;

private:
  std::vector<Route> m_routes;
};

} // namespace shared::server
