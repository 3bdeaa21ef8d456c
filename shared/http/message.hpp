// The client's HTTP messages (RFC 9110, RFC 9112): the request head it sends, and what it reads
// from a response head: our Response, how the body is delimited, where a redirect points,
// whether the body is gzip-coded.
#pragma once

#include "shared/http/client.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <string>

namespace shared::http {

/// How a response body is delimited (RFC 9112 §6.3).
enum class Framing {
  none,             ///< no body: an answer to HEAD, 204, 304
  content_length,   ///< Content-Length bytes
  chunked,          ///< Transfer-Encoding: chunked
  connection_close, ///< up to the server's closing of the connection
};

/// The request line and headers for `method` on `url`: User-Agent, Accept-Encoding: gzip,
/// keep-alive, the credentials of `options` when `same_origin` (they never follow a redirect
/// to another origin), then `headers`, which replace ours of the same name.
Poco::Net::HTTPRequest make_request(const std::string& method, const Poco::URI& url,
                                    bool same_origin, const Headers& headers,
                                    const ClientOptions& options);

/// Our Response for the head Poco received for `url`. Throws BrokenBody for a Content-Length
/// Poco reads as negative.
Response to_response(const Poco::Net::HTTPResponse& head, const std::string& url);

/// How the body of `response` (received as `head`) to a `method` request is delimited.
Framing framing_of(const std::string& method, const Poco::Net::HTTPResponse& head,
                   const Response& response);

/// Where a redirect (301, 302, 303, 307, 308 with a Location) points, resolved against `url`;
/// "" when the response is not one.
std::string redirect_target(const Poco::Net::HTTPResponse& head, const Poco::URI& url);

/// Whether the body is gzip-coded (Content-Encoding gzip or x-gzip). Throws NetworkError,
/// naming `method` and the URL, for a coding other than gzip or identity.
bool is_gzip_coded(const std::string& method, const Response& response);

} // namespace shared::http
