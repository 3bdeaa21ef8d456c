#include "tests/support/fault_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <poll.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <zlib.h>

namespace tests::support {

namespace {

using Fault = FaultReply::Fault;

constexpr int k_poll_ms = 20;                     // how often blocked threads look at m_stopping
constexpr std::size_t k_max_head_bytes = 65536;   // request line + headers, bytes
constexpr std::size_t k_send_slice_bytes = 65536; // largest single send(), bytes
constexpr std::size_t k_chunk_bytes = 4096;       // Fault::chunked chunk size, bytes
constexpr int k_drain_ms = 2000;  // how long a clean close waits for the client's FIN
constexpr int k_unsent_ms = 2000; // how long a reset waits for sent bytes to be acknowledged

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return "";
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool contains_token(const std::string& header_value, const std::string& token) {
  return to_lower(header_value).find(token) != std::string::npos;
}

// Parses a non-empty run of at most 18 decimal digits.
bool parse_size(const std::string& text, std::size_t& value) {
  if (text.empty() || text.size() > 18) {
    return false;
  }
  value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return true;
}

const char* reason_phrase(int status) {
  static const std::map<int, const char*> k_reasons = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {204, "No Content"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {408, "Request Timeout"},
      {410, "Gone"},
      {416, "Range Not Satisfiable"},
      {429, "Too Many Requests"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  const auto found = k_reasons.find(status);
  return found == k_reasons.end() ? "Unknown" : found->second;
}

// gzip (RFC 1952) of `data`.
std::string gzip_compress(const std::string& data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("FaultServer: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  const auto written = static_cast<std::size_t>(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) {
    throw std::runtime_error("FaultServer: deflate failed");
  }
  out.resize(written);
  return out;
}

// What a Range header asks of a body of `size` bytes.
struct RangeRequest {
  enum class Kind { ignore, satisfiable, unsatisfiable } kind = Kind::ignore;
  std::size_t first = 0; // first byte, inclusive
  std::size_t last = 0;  // last byte, inclusive
};

RangeRequest parse_range(const std::string& value, std::size_t size) {
  RangeRequest range;
  const std::string text = trim(value);
  if (to_lower(text.substr(0, 6)) != "bytes=" || text.find(',') != std::string::npos) {
    return range; // not bytes, or several ranges: serve the whole body
  }
  const std::string spec = trim(text.substr(6));
  const auto dash = spec.find('-');
  if (dash == std::string::npos) {
    return range;
  }
  const std::string from = trim(spec.substr(0, dash));
  const std::string to = trim(spec.substr(dash + 1));
  if (from.empty()) { // bytes=-n: the last n bytes
    std::size_t suffix = 0;
    if (!parse_size(to, suffix)) {
      return range;
    }
    if (suffix == 0 || size == 0) {
      range.kind = RangeRequest::Kind::unsatisfiable;
      return range;
    }
    range.kind = RangeRequest::Kind::satisfiable;
    range.first = size - std::min(suffix, size);
    range.last = size - 1;
    return range;
  }
  std::size_t first = 0;
  std::size_t last = 0;
  if (!parse_size(from, first) || (!to.empty() && (!parse_size(to, last) || last < first))) {
    return range;
  }
  if (first >= size) {
    range.kind = RangeRequest::Kind::unsatisfiable;
    return range;
  }
  range.kind = RangeRequest::Kind::satisfiable;
  range.first = first;
  range.last = to.empty() ? size - 1 : std::min(last, size - 1);
  return range;
}

// Sets `name` to `value` in `headers`, in place if present (names compared case-insensitively).
void set_header(std::vector<std::pair<std::string, std::string>>& headers, const std::string& name,
                const std::string& value) {
  const std::string lower = to_lower(name);
  for (auto& header : headers) {
    if (to_lower(header.first) == lower) {
      header.second = value;
      return;
    }
  }
  headers.emplace_back(name, value);
}

} // namespace

struct FaultServer::Request {
  std::string method;
  std::string target;
  std::string path; // target without query
  std::map<std::string, std::string> headers;
  bool keep_alive = true;
};

FaultServer::FaultServer() : m_listener(Poco::Net::SocketAddress("127.0.0.1", 0)) {
  m_port = m_listener.address().port();
  m_accept_thread = std::thread([this] { accept_loop(); });
}

FaultServer::~FaultServer() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = true;
  }
  m_stop_cv.notify_all();
  m_accept_thread.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    connections.swap(m_connections);
  }
  for (auto& connection : connections) {
    connection->thread.join();
  }
  try {
    m_listener.close();
  } catch (const Poco::Exception&) {
  }
}

std::string FaultServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

void FaultServer::on(const std::string& path, std::vector<FaultReply> replies) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (replies.empty()) {
    m_routes.erase(path);
    return;
  }
  m_routes[path] = Route{std::move(replies), 0};
}

void FaultServer::serve(const std::string& path, std::string body) {
  FaultReply reply;
  reply.body = std::move(body);
  on(path, {std::move(reply)});
}

void FaultServer::redirect(const std::string& from, const std::string& to, int status) {
  FaultReply reply;
  reply.status = status;
  reply.headers = {{"Location", to}};
  reply.body = "redirect to " + to + "\n";
  on(from, {std::move(reply)});
}

std::size_t FaultServer::request_count(const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_request_counts.find(path);
  return found == m_request_counts.end() ? 0 : found->second;
}

std::vector<RecordedRequest> FaultServer::requests() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_requests;
}

std::size_t FaultServer::connection_count() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_connection_count;
}

void FaultServer::accept_loop() {
  while (!m_stopping) {
    // Join the threads of connections that have ended.
    std::list<std::unique_ptr<Connection>> finished;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      for (auto it = m_connections.begin(); it != m_connections.end();) {
        auto current = it++;
        if ((*current)->done) {
          finished.splice(finished.end(), m_connections, current);
        }
      }
    }
    for (auto& connection : finished) {
      connection->thread.join();
    }

    try {
      if (!m_listener.poll(Poco::Timespan(0, k_poll_ms * 1000), Poco::Net::Socket::SELECT_READ)) {
        continue;
      }
      Poco::Net::StreamSocket socket = m_listener.acceptConnection();
      socket.setNoDelay(true);
      std::lock_guard<std::mutex> lock(m_mutex);
      const int connection_id = static_cast<int>(++m_connection_count);
      auto connection = std::make_unique<Connection>();
      Connection* raw = connection.get();
      raw->thread = std::thread([this, socket, connection_id, raw] {
        serve_connection(socket, connection_id);
        raw->done = true;
      });
      m_connections.push_back(std::move(connection));
    } catch (const std::exception&) {
      // A client that gave up before accept(), or no thread to spare; keep listening.
    }
  }
}

void FaultServer::serve_connection(Poco::Net::StreamSocket socket, int connection_id) {
  const int fd = socket.impl()->sockfd();
  std::string buffer;
  // Appends what the client sent to `buffer`; false at end of stream, error or stop.
  const auto receive_more = [&]() {
    while (!m_stopping) {
      pollfd entry{fd, POLLIN, 0};
      const int ready = ::poll(&entry, 1, k_poll_ms);
      if (ready < 0 && errno != EINTR) {
        return false;
      }
      if (ready <= 0) {
        continue;
      }
      char chunk[16384];
      const ssize_t received = ::recv(fd, chunk, sizeof chunk, 0);
      if (received < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (received <= 0) {
        return false;
      }
      buffer.append(chunk, static_cast<std::size_t>(received));
      return true;
    }
    return false;
  };

  while (!m_stopping) {
    std::size_t head_end = 0;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > k_max_head_bytes || !receive_more()) {
        return;
      }
    }
    const std::string head = buffer.substr(0, head_end + 2); // each line ends with CRLF
    buffer.erase(0, head_end + 4);

    // Parse the request line and the headers.
    Request request;
    bool valid = true;
    std::string version;
    std::size_t line_start = 0;
    for (bool first_line = true; line_start < head.size(); first_line = false) {
      const std::size_t line_end = head.find("\r\n", line_start);
      const std::string line = head.substr(line_start, line_end - line_start);
      line_start = line_end + 2;
      if (first_line) {
        const auto space1 = line.find(' ');
        const auto space2 = line.find(' ', space1 == std::string::npos ? 0 : space1 + 1);
        if (space1 == std::string::npos || space2 == std::string::npos) {
          valid = false;
          break;
        }
        request.method = line.substr(0, space1);
        request.target = line.substr(space1 + 1, space2 - space1 - 1);
        version = line.substr(space2 + 1);
        continue;
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0) {
        valid = false;
        break;
      }
      const std::string name = to_lower(trim(line.substr(0, colon)));
      const std::string value = trim(line.substr(colon + 1));
      auto [it, inserted] = request.headers.emplace(name, value);
      if (!inserted) {
        it->second += ", " + value;
      }
    }
    std::size_t body_size = 0;
    if (valid) {
      valid = version.rfind("HTTP/1.", 0) == 0 && !request.target.empty() &&
              request.headers.count("transfer-encoding") == 0;
    }
    if (valid && request.headers.count("content-length") != 0) {
      valid = parse_size(request.headers["content-length"], body_size);
    }
    if (!valid) {
      const std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n"
                                "Connection: close\r\n\r\nbad request\n";
      if (send_all(socket, reply.data(), reply.size())) {
        close_cleanly(socket);
      }
      return;
    }
    const auto connection_header = request.headers.find("connection");
    const std::string connection_value =
        connection_header == request.headers.end() ? "" : connection_header->second;
    request.keep_alive = version == "HTTP/1.0" ? contains_token(connection_value, "keep-alive")
                                               : !contains_token(connection_value, "close");
    request.path = request.target.substr(0, request.target.find('?'));

    // Skip the request body, if any.
    while (buffer.size() < body_size) {
      body_size -= buffer.size();
      buffer.clear();
      if (!receive_more()) {
        return;
      }
    }
    buffer.erase(0, body_size);

    // Record the request and choose the reply.
    FaultReply reply;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      ++m_request_counts[request.path];
      m_requests.push_back(
          RecordedRequest{request.method, request.target, request.headers, connection_id});
      const auto route = m_routes.find(request.path);
      if (route == m_routes.end()) {
        reply.status = 404;
        reply.headers = {{"Content-Type", "text/plain"}};
        reply.body = "404 Not Found: " + request.path + "\n";
      } else {
        Route& found = route->second;
        reply = found.replies[std::min(found.next, found.replies.size() - 1)];
        ++found.next;
      }
    }
    if (!answer(socket, request, reply)) {
      return;
    }
  }
}

bool FaultServer::answer(Poco::Net::StreamSocket& socket, const Request& request,
                         const FaultReply& reply) {
  if (reply.delay_ms > 0 && !wait_ms(reply.delay_ms)) {
    return false;
  }
  int status = reply.status;
  Fault fault = reply.fault;
  std::string body = reply.body;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Server", "FaultServer"}, {"Content-Type", "application/octet-stream"}};

  const bool gzipped = fault == Fault::gzip || fault == Fault::broken_gzip;
  if (status == 200 && !gzipped) {
    headers.emplace_back("Accept-Ranges", "bytes");
    const auto range_header = request.headers.find("range");
    if (range_header != request.headers.end()) {
      const RangeRequest range = parse_range(range_header->second, body.size());
      if (range.kind == RangeRequest::Kind::satisfiable) {
        status = 206;
        headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                  std::to_string(range.last) + "/" +
                                                  std::to_string(body.size()));
        body = body.substr(range.first, range.last - range.first + 1);
      } else if (range.kind == RangeRequest::Kind::unsatisfiable) {
        status = 416;
        fault = Fault::none;
        headers.emplace_back("Content-Range", "bytes */" + std::to_string(body.size()));
        body.clear();
      }
    }
  }
  if (gzipped) {
    body = gzip_compress(body);
    if (fault == Fault::broken_gzip) {
      body.resize(body.size() / 2);
    }
    headers.emplace_back("Content-Encoding", "gzip");
  }

  const bool no_body_status = (status >= 100 && status < 200) || status == 204 || status == 304;
  const bool announce_close =
      fault == Fault::close_after || fault == Fault::no_content_length || !request.keep_alive;
  if (no_body_status) {
    body.clear();
  } else if (fault == Fault::chunked || fault == Fault::chunked_truncated) {
    headers.emplace_back("Transfer-Encoding", "chunked");
  } else if (fault != Fault::no_content_length) {
    headers.emplace_back("Content-Length", std::to_string(body.size()));
  }
  headers.emplace_back("Connection", announce_close ? "close" : "keep-alive");
  for (const auto& [name, value] : reply.headers) {
    set_header(headers, name, value);
  }

  std::string wire = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) {
    wire += name + ": " + value + "\r\n";
  }
  wire += "\r\n";

  const bool head = request.method == "HEAD";
  if (head) {
    body.clear();
  }
  switch (fault) {
  case Fault::reset_mid_body:
    if (send_all(socket, wire.data(), wire.size()) &&
        send_all(socket, body.data(), body.size() / 2)) {
      wait_until_sent(socket);
    }
    reset(socket);
    return false;
  case Fault::short_body:
    if (send_all(socket, wire.data(), wire.size()) &&
        send_all(socket, body.data(), body.size() / 2)) {
      close_cleanly(socket);
    }
    return false;
  case Fault::drip:
    if (!send_all(socket, wire.data(), wire.size())) {
      return false;
    }
    for (const char byte : body) {
      if ((reply.drip_interval_ms > 0 && !wait_ms(reply.drip_interval_ms)) ||
          !send_all(socket, &byte, 1)) {
        return false;
      }
    }
    break;
  case Fault::chunked_truncated:
  case Fault::chunked: {
    const bool truncated = reply.fault == Fault::chunked_truncated;
    const std::size_t sent = truncated ? body.size() / 2 : body.size();
    for (std::size_t offset = 0; offset < sent; offset += k_chunk_bytes) {
      const std::size_t size = std::min(k_chunk_bytes, sent - offset);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", size);
      wire += size_line;
      wire.append(body, offset, size);
      wire += "\r\n";
    }
    if (truncated) {
      if (send_all(socket, wire.data(), wire.size())) {
        close_cleanly(socket);
      }
      return false;
    }
    if (!head && !no_body_status) {
      wire += "0\r\n\r\n";
    }
    if (!send_all(socket, wire.data(), wire.size())) {
      return false;
    }
    break;
  }
  default:
    wire += body;
    if (!send_all(socket, wire.data(), wire.size())) {
      return false;
    }
    break;
  }

  if (announce_close || fault == Fault::drop_keep_alive) {
    close_cleanly(socket);
    return false;
  }
  return true;
}

bool FaultServer::send_all(Poco::Net::StreamSocket& socket, const char* data, std::size_t size) {
  const int fd = socket.impl()->sockfd();
  while (size > 0) {
    if (m_stopping) {
      return false;
    }
    pollfd entry{fd, POLLOUT, 0};
    const int ready = ::poll(&entry, 1, k_poll_ms);
    if (ready < 0 && errno != EINTR) {
      return false;
    }
    if (ready <= 0) {
      continue;
    }
    const ssize_t sent =
        ::send(fd, data, std::min(size, k_send_slice_bytes), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return false; // the client went away
    }
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

bool FaultServer::wait_ms(int milliseconds) {
  std::unique_lock<std::mutex> lock(m_mutex);
  return !m_stop_cv.wait_for(lock, std::chrono::milliseconds(milliseconds),
                             [this] { return m_stopping.load(); });
}

bool FaultServer::wait_until_sent(Poco::Net::StreamSocket& socket) {
  // With SO_LINGER 0, close() throws away bytes not yet acknowledged: wait until the client's
  // kernel has them all, so the client reliably gets the bytes sent before the reset.
  const int fd = socket.impl()->sockfd();
  for (int waited = 0; waited < k_unsent_ms; waited += 5) {
    int unsent = 0;
    if (::ioctl(fd, TIOCOUTQ, &unsent) != 0 || unsent == 0) {
      return true;
    }
    if (!wait_ms(5)) {
      return false;
    }
  }
  return false;
}

void FaultServer::close_cleanly(Poco::Net::StreamSocket& socket) {
  // Send FIN, then read (and ignore) until the client closes too, so that nothing it still
  // sends turns our close into a reset.
  const int fd = socket.impl()->sockfd();
  ::shutdown(fd, SHUT_WR);
  for (int waited = 0; waited < k_drain_ms && !m_stopping; waited += k_poll_ms) {
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, k_poll_ms);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (ready > 0) {
      char chunk[4096];
      const ssize_t received = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (received == 0 || (received < 0 && errno != EINTR && errno != EAGAIN)) {
        break;
      }
    }
  }
  try {
    socket.close();
  } catch (const Poco::Exception&) {
  }
}

void FaultServer::reset(Poco::Net::StreamSocket& socket) {
  try {
    socket.setLinger(true, 0);
    socket.close();
  } catch (const Poco::Exception&) {
  }
}

} // namespace tests::support
