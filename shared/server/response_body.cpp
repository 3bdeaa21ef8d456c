#include "shared/server/response_body.hpp"

#include "shared/error/error.hpp"

#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>

namespace shared::server {
namespace {

// Bytes a sendfile(2) call is given when not throttled.
constexpr std::uint64_t k_file_block = 4 * 1024 * 1024;

std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

} // namespace

ResponseBody::ResponseBody(Exchange& exchange) : m_exchange(exchange) {
  auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(exchange.request);
  m_fd = impl.socket().impl()->sockfd();
  m_chunked = exchange.response.getChunkedTransferEncoding();
  std::ostream& headers = exchange.response.send();
  headers.flush();
  timeval timeout{};
  timeout.tv_sec = exchange.send_timeout;
  ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

bool ResponseBody::wait_delay() {
  if (m_first || m_exchange.chunk_delay <= 0) {
    m_first = false;
    return true;
  }
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(m_exchange.chunk_delay);
  while (std::chrono::steady_clock::now() < until) {
    if (m_exchange.stopping != nullptr && *m_exchange.stopping) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool ResponseBody::send_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(m_fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return false;
    }
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

bool ResponseBody::write(const char* data, std::size_t size) {
  if (m_exchange.client_gone || !wait_delay() ||
      (m_exchange.stopping != nullptr && *m_exchange.stopping)) {
    m_exchange.client_gone = true;
    return false;
  }
  if (size == 0) {
    return true;
  }
  bool ok = true;
  if (m_chunked) {
    char line[24];
    const int n = std::snprintf(line, sizeof line, "%zx\r\n", size);
    ok = send_all(line, static_cast<std::size_t>(n)) && send_all(data, size) && send_all("\r\n", 2);
  } else {
    ok = send_all(data, size);
  }
  if (!ok) {
    m_exchange.client_gone = true;
    abort();
    return false;
  }
  m_exchange.body_bytes += size;
  return true;
}

bool ResponseBody::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
  while (count > 0) {
    if (m_exchange.client_gone || !wait_delay() ||
        (m_exchange.stopping != nullptr && *m_exchange.stopping)) {
      m_exchange.client_gone = true;
      return false;
    }
    // Throttled: one writer block at a time; else larger sendfile(2) calls (fewer wake-ups
    // with many clients; a closed socket still fails the next call at once).
    const std::uint64_t limit = m_exchange.chunk_delay > 0 ? zip::k_buffer_size : k_file_block;
    std::size_t block = static_cast<std::size_t>(count < limit ? count : limit);
    while (block > 0) {
      auto position = static_cast<off_t>(offset);
      const ssize_t sent = ::sendfile(m_fd, fd, &position, block);
      if (sent < 0 && errno == EINTR) {
        continue;
      }
      if (sent == 0) {
        throw error::IntegrityError("a file ended " + std::to_string(count) +
                                    " bytes early (it changed while being sent)");
      }
      if (sent < 0) {
        m_exchange.client_gone = true;
        abort();
        return false;
      }
      const auto n = static_cast<std::uint64_t>(sent);
      offset += n;
      count -= n;
      block -= static_cast<std::size_t>(n);
      m_exchange.body_bytes += n;
    }
  }
  return true;
}

void ResponseBody::abort() {
  ::shutdown(m_fd, SHUT_RDWR);
  m_exchange.response.setKeepAlive(false);
}

void send_text(Exchange& exchange, int status, const std::string& content_type,
               const std::string& body) {
  auto& response = exchange.response;
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType(content_type);
  response.setContentLength64(static_cast<Poco::Int64>(body.size()));
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  std::ostream& out = response.send();
  if (!exchange.head()) {
    out << body;
    exchange.body_bytes += body.size();
  }
  out.flush();
}

void send_page(Exchange& exchange, int status, const std::string& message) {
  const std::string reason = Poco::Net::HTTPResponse::getReasonForStatus(
      static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  const std::string title = std::to_string(status) + " " + reason;
  send_text(exchange, status, "text/html; charset=utf-8",
            "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head><body><h1>" + title +
                "</h1><p>" + html_escape(message) + "</p></body></html>\n");
}

} // namespace shared::server
