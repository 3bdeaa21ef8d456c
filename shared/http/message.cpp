#include "shared/http/message.hpp"

#include "shared/http/errors.hpp"
#include "shared/http/url.hpp"

#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/String.h>

namespace shared::http {
namespace {

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

} // namespace

Poco::Net::HTTPRequest make_request(const std::string& method, const Poco::URI& url,
                                    bool same_origin, const Headers& headers,
                                    const ClientOptions& options) {
  const std::string target = url.getPathEtc();
  Poco::Net::HTTPRequest request(method, target.empty() ? "/" : target,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("User-Agent", options.user_agent);
  request.set("Accept-Encoding", "gzip");
  request.setKeepAlive(true);
  if (same_origin && !options.bearer_token.empty()) {
    request.set("Authorization", "Bearer " + options.bearer_token);
  } else if (same_origin && !options.username.empty()) {
    Poco::Net::HTTPBasicCredentials(options.username, options.password).authenticate(request);
  }
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  return request;
}

Response to_response(const Poco::Net::HTTPResponse& head, const std::string& url) {
  Response response;
  response.status = static_cast<int>(head.getStatus());
  response.reason = head.getReason();
  response.url = url;
  for (const auto& [name, value] : head) {
    response.headers.emplace_back(name, value);
  }
  if (head.hasContentLength() && !head.getChunkedTransferEncoding()) {
    const Poco::Int64 length = head.getContentLength64();
    if (length < 0) {
      throw BrokenBody("invalid Content-Length \"" + head.get("Content-Length", "") + "\"");
    }
    response.content_length = static_cast<std::uint64_t>(length);
  }
  return response;
}

Framing framing_of(const std::string& method, const Poco::Net::HTTPResponse& head,
                   const Response& response) {
  if (method == Poco::Net::HTTPRequest::HTTP_HEAD || response.status == 204 ||
      response.status == 304) {
    return Framing::none;
  }
  if (head.getChunkedTransferEncoding()) {
    return Framing::chunked;
  }
  return response.content_length ? Framing::content_length : Framing::connection_close;
}

std::string redirect_target(const Poco::Net::HTTPResponse& head, const Poco::URI& url) {
  const std::string location = head.get("Location", "");
  if (!is_redirect(static_cast<int>(head.getStatus())) || location.empty()) {
    return {};
  }
  Poco::URI next(url);
  next.resolve(location);
  return next.toString();
}

bool is_gzip_coded(const std::string& method, const Response& response) {
  const std::string coding = Poco::toLower(Poco::trim(response.header("Content-Encoding")));
  if (coding == "gzip" || coding == "x-gzip") {
    return true;
  }
  if (!coding.empty() && coding != "identity") {
    throw NetworkError(method + " " + redact(response.url) + ": unsupported Content-Encoding \"" +
                       coding + "\"");
  }
  return false;
}

} // namespace shared::http
