#include "shared/server/ranged_answer.hpp"

#include "shared/error/error.hpp"
#include "shared/server/byte_range.hpp"
#include "shared/zip/io.hpp"

#include <cerrno>
#include <memory>
#include <unistd.h>

namespace shared::server {

bool choose_range(Exchange& exchange, const std::string& etag, std::uint64_t length,
                  ChosenRange& range) {
  auto& request = exchange.request;
  auto& response = exchange.response;
  response.set("ETag", etag);
  response.set("Accept-Ranges", "bytes");
  const std::string none_match = request.get("If-None-Match", "");
  if (!none_match.empty() && (none_match == "*" || none_match.find(etag) != std::string::npos)) {
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
    response.setContentLength(0);
    response.send().flush();
    return false;
  }
  range.first = 0;
  range.last = length == 0 ? 0 : length - 1;
  const std::string header = request.get("Range", "");
  const std::string if_range = request.get("If-Range", "");
  const bool use_range = !header.empty() && (if_range.empty() || if_range == etag);
  const auto wanted = use_range ? parse_range(header, length) : RangeRequest{};
  using Kind = RangeRequest::Kind;
  if (wanted.kind == Kind::malformed || wanted.kind == Kind::unsatisfiable) {
    response.set("Content-Range", unsatisfied_range(length));
    response.erase("Content-Disposition");
    exchange.note =
        (wanted.kind == Kind::malformed ? "bad Range: " : "unsatisfiable Range: ") + header;
    send_page(exchange, 416, "The requested range cannot be served.");
    return false;
  }
  if (wanted.kind == Kind::single) {
    range.first = wanted.first;
    range.last = wanted.last;
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_PARTIAL_CONTENT);
    response.set("Content-Range", content_range(range.first, range.last, length));
    response.setContentLength64(static_cast<Poco::Int64>(range.last - range.first + 1));
  } else {
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentLength64(static_cast<Poco::Int64>(length));
  }
  return true;
}

bool send_file_range(ResponseBody& body, int fd, std::uint64_t first, std::uint64_t last) {
  if (last < first) {
    return true;
  }
  if (body.accepts_files()) {
    return body.write_file(fd, first, last - first + 1);
  }
  const std::unique_ptr<char[]> buffer(new char[zip::k_buffer_size]);
  for (std::uint64_t offset = first; offset <= last;) {
    const std::uint64_t left = last - offset + 1;
    const std::size_t want =
        static_cast<std::size_t>(left < zip::k_buffer_size ? left : zip::k_buffer_size);
    const ssize_t n = ::pread(fd, buffer.get(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw error::IntegrityError("a file ended before its last byte (it changed while sent)");
    }
    if (!body.write(buffer.get(), static_cast<std::size_t>(n))) {
      return false;
    }
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

} // namespace shared::server
