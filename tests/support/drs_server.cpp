#include "tests/support/drs_server.hpp"

#include "shared/hash/file_hasher.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <utility>

namespace tests::support {
namespace {

using Kind = DrsRequest::Kind;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char* k_bytes_prefix = "/drs-bytes/";               // nginx path of the bytes
constexpr const char* k_token_parameter = "X-Amz-Signature";        // query parameter of the token
constexpr const char* k_authorize_path = "/_drs_fixture/authorize"; // nginx's auth_request
constexpr const char* k_access_id = "nginx"; // the one access method's access_id
constexpr int k_max_threads = 32;            // connections served at once
constexpr int k_poke_interval_ms = 5;        // see ~DrsServer

// DRS ids: RFC 3986 unreserved characters, not "." or "..".
bool valid_id(const std::string& id) {
  if (id.empty() || id == "." || id == "..") {
    return false;
  }
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out += escaped;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

// A DRS Error body.
std::string error_json(int status, const std::string& message) {
  return "{\"msg\":" + json_string(message) + ",\"status_code\":" + std::to_string(status) + "}";
}

std::string access_url_json(const DrsAccessUrl& access) {
  std::string json = "{\"url\":" + json_string(access.url);
  if (!access.headers.empty()) {
    json += ",\"headers\":[";
    for (std::size_t i = 0; i < access.headers.size(); ++i) {
      json += (i == 0 ? "" : ",") + json_string(access.headers[i]);
    }
    json += "]";
  }
  return json + "}";
}

// RFC 3339 in UTC, whole seconds.
std::string rfc3339(std::int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  ::gmtime_r(&time, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string base64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

// The first byte of a `Range: bytes=a-…` value; 0 when absent; nullopt when another form.
std::optional<std::uint64_t> range_start(const std::string& range) {
  if (range.empty()) {
    return 0;
  }
  if (range.rfind("bytes=", 0) != 0) {
    return std::nullopt;
  }
  std::uint64_t first = 0;
  std::size_t i = 6;
  for (; i < range.size() && range[i] >= '0' && range[i] <= '9'; ++i) {
    first = first * 10 + static_cast<std::uint64_t>(range[i] - '0');
  }
  if (i == 6 || i >= range.size() || range[i] != '-') {
    return std::nullopt;
  }
  return first;
}

// The value of query parameter `name` in `query` (not decoded), or "".
std::string query_parameter(const std::string& query, const std::string& name) {
  std::istringstream parts(query);
  for (std::string part; std::getline(parts, part, '&');) {
    if (part.rfind(name + "=", 0) == 0) {
      return part.substr(name.size() + 1);
    }
  }
  return "";
}

void send(HTTPServerResponse& response, int status, const std::string& body,
          const std::string& content_type = "application/json") {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  if (status == 204) {
    response.setContentLength(0);
    response.send();
    return;
  }
  response.setContentType(content_type);
  response.sendBuffer(body.data(), body.size());
}

void check_range_faults(const DrsObjectBehaviour& behaviour) {
  for (const auto& fault : behaviour.range_faults) {
    if (fault.status != 401 && fault.status != 403 && fault.status != 500) {
      throw std::invalid_argument(
          "DrsServer: a range fault's status must be 401, 403 or 500, not " +
          std::to_string(fault.status));
    }
  }
}

} // namespace

class DrsServer::Handler : public Poco::Net::HTTPRequestHandler {
public:
  explicit Handler(DrsServer& owner) : m_owner(owner) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    m_owner.handle(request, response);
  }

private:
  DrsServer& m_owner;
};

class DrsServer::HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
  explicit HandlerFactory(DrsServer& owner) : m_owner(owner) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(m_owner);
  }

private:
  DrsServer& m_owner;
};

DrsServer::DrsServer(const std::string& folder, DrsServerOptions options)
    : m_folder(std::filesystem::absolute(folder).lexically_normal().string()),
      m_options(std::move(options)), m_random(std::random_device{}()), m_pool(1, k_max_threads) {
  if (!std::filesystem::is_directory(m_folder)) {
    throw std::runtime_error("DrsServer: not a folder: " + m_folder);
  }
  if (m_folder.find_first_of("\"\\$\n") != std::string::npos) {
    throw std::runtime_error("DrsServer: folder cannot be written in nginx.conf: " + m_folder);
  }
  while (!m_folder.empty() && m_folder.back() == '/') {
    m_folder.pop_back();
  }

  // Bind first: nginx's configuration needs the port. Nothing connects before start().
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  m_port = socket.address().port();

  // Bytes only under /drs-bytes/<id>?X-Amz-Signature=<token>, each request authorized by us.
  NginxOptions nginx = m_options.nginx;
  nginx.extra_server_lines.insert(
      nginx.extra_server_lines.begin(),
      {std::string("location ~ \"^") + k_bytes_prefix +
           "(?<drs_file>[A-Za-z0-9._~-]+)$\" { auth_request /_drs_fixture_auth; alias \"" +
           m_folder + "/$drs_file\"; }",
       "location = /_drs_fixture_auth { internal; proxy_pass http://127.0.0.1:" +
           std::to_string(m_port) + k_authorize_path +
           "; proxy_pass_request_body off; proxy_set_header Content-Length \"\";"
           " proxy_set_header X-Original-URI $request_uri; }"});
  m_nginx = std::make_unique<NginxServer>(m_nginx_root.path(), nginx);

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(k_max_threads);
  params->setKeepAlive(true);
  m_server =
      std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*this), m_pool, socket, params);
  m_server->start();
}

DrsServer::~DrsServer() {
  m_nginx.reset(); // first: it asks us about every byte request
  // Poco's accept loop looks at its stop flag only between polls of 250 ms, or when a
  // connection arrives: connect now and then until it has stopped, so that stopping is quick.
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    while (!stopped) {
      try {
        Poco::Net::StreamSocket poke;
        poke.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(m_port)),
                     Poco::Timespan(0, 100 * 1000));
      } catch (const Poco::Exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(k_poke_interval_ms));
    }
  });
  m_server->stopAll(true);
  stopped = true;
  waker.join();
  m_pool.joinAll();
}

std::string DrsServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(m_port) + m_options.base_path;
}

std::string DrsServer::object_url(const std::string& id) const {
  return base_url() + "/objects/" + id;
}

void DrsServer::set_behaviour(const std::string& id, DrsObjectBehaviour behaviour) {
  if (!valid_id(id)) {
    throw std::invalid_argument("DrsServer: not a DRS id this fixture serves: " + id);
  }
  check_range_faults(behaviour);
  std::lock_guard<std::mutex> lock(m_mutex);
  ObjectState& state = m_objects[id];
  state.sequence = 0;
  state.range_fault_left.clear();
  for (const auto& fault : behaviour.range_faults) {
    state.range_fault_left.push_back(fault.times);
  }
  state.behaviour = std::move(behaviour);
}

void DrsServer::set_envelope(const std::string& id, std::string envelope) {
  if (!valid_id(id)) {
    throw std::invalid_argument("DrsServer: not a DRS id this fixture serves: " + id);
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  m_objects[id].behaviour.envelope = std::move(envelope);
}

DrsAccessUrl DrsServer::issue_access_url(const std::string& id) {
  if (!valid_id(id) || !std::filesystem::is_regular_file(m_folder + "/" + id)) {
    throw std::invalid_argument("DrsServer: no file for id " + id);
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  std::string token;
  return issue_locked(id, token);
}

DrsAccessUrl DrsServer::issue_locked(const std::string& id, std::string& token) {
  const auto random_hex = [this] {
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(m_random()),
                  static_cast<unsigned long long>(m_random()));
    return std::string(text);
  };
  const DrsObjectBehaviour& behaviour = m_objects[id].behaviour;
  Token entry;
  entry.id = id;
  entry.issued = std::chrono::steady_clock::now();
  entry.max_requests = behaviour.url_max_requests;
  entry.lifetime_ms = behaviour.url_lifetime_ms;
  if (m_options.access_url_headers) {
    entry.secret = "s" + random_hex();
  }
  token = random_hex();
  DrsAccessUrl access;
  access.url = m_nginx->url(k_bytes_prefix + id + "?" + k_token_parameter + "=" + token);
  if (!entry.secret.empty()) {
    access.headers.push_back("Authorization: Bearer " + entry.secret);
  }
  m_tokens.emplace(token, std::move(entry));
  ++m_issued[id];
  return access;
}

std::size_t DrsServer::count(Kind kind, const std::string& id) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::size_t total = 0;
  for (const auto& request : m_requests) {
    total += request.kind == kind && request.id == id ? 1 : 0;
  }
  return total;
}

std::size_t DrsServer::object_requests(const std::string& id) const {
  return count(Kind::object, id);
}

std::size_t DrsServer::access_requests(const std::string& id) const {
  return count(Kind::access, id);
}

std::size_t DrsServer::envelope_requests(const std::string& id) const {
  return count(Kind::envelopes, id);
}

std::vector<DrsRequest> DrsServer::byte_requests(const std::string& id) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<DrsRequest> found;
  for (const auto& request : m_requests) {
    if (request.kind == Kind::bytes && request.id == id) {
      found.push_back(request);
    }
  }
  return found;
}

std::size_t DrsServer::access_urls_issued(const std::string& id) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_issued.find(id);
  return found == m_issued.end() ? 0 : found->second;
}

std::vector<DrsRequest> DrsServer::requests() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_requests;
}

void DrsServer::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  DrsRequest record;
  record.target = request.getURI();
  record.authorization = request.get("Authorization", "");
  const std::string path = record.target.substr(0, record.target.find('?'));
  const std::string objects = m_options.base_path + "/objects/";

  if (path == k_authorize_path) {
    authorize_bytes(request, record);
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_requests.push_back(record);
    }
    send(response, record.status == 200 ? 204 : record.status, "");
    return;
  }

  // <base>/objects/{id}[/envelopes | /access/{access_id}]
  std::vector<std::string> segments;
  if (request.getMethod() == "GET" && path.rfind(objects, 0) == 0) {
    std::istringstream rest(path.substr(objects.size()));
    for (std::string segment; std::getline(rest, segment, '/');) {
      segments.push_back(segment);
    }
  }
  std::string id;
  if (!segments.empty()) {
    try {
      Poco::URI::decode(segments[0], id);
    } catch (const Poco::Exception&) {
      id.clear();
    }
  }
  if (segments.size() == 1) {
    record.kind = Kind::object;
  } else if (segments.size() == 2 && segments[1] == "envelopes") {
    record.kind = Kind::envelopes;
  } else if (segments.size() == 3 && segments[1] == "access") {
    record.kind = Kind::access;
  }
  if (record.kind == Kind::other || !valid_id(id)) {
    record.kind = Kind::other;
    record.status = 404;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_requests.push_back(record);
    }
    send(response, 404, error_json(404, "no such endpoint or object: " + path));
    return;
  }
  record.id = id;

  if (record.kind == Kind::envelopes) {
    answer_envelope(id, record, response);
  } else if (record.kind == Kind::access && segments[2] != k_access_id) {
    record.status = 404;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_requests.push_back(record);
    }
    send(response, 404, error_json(404, "no such access_id: " + segments[2]));
  } else {
    answer_object(id, record.kind == Kind::access, record, response);
  }
}

void DrsServer::answer_object(const std::string& id, bool access_only, DrsRequest& record,
                              HTTPServerResponse& response) {
  std::string body;
  std::string retry_after;
  bool with_retry_after = false;
  const auto finish = [&] {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_requests.push_back(record);
    }
    if (with_retry_after) {
      response.set("Retry-After", retry_after);
    }
    response.set("Cache-Control", "no-store");
    send(response, record.status, body);
  };

  // Where this request is in the id's sequence: errors, then staging, then ready.
  DrsObjectBehaviour behaviour;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    ObjectState& state = m_objects[id];
    behaviour = state.behaviour;
    const int errors = behaviour.error_status != 0 ? behaviour.error_times : 0;
    if (m_options.objects_require_token && record.authorization != "Bearer " + m_options.token) {
      record.status = 403;
      body = error_json(403, "missing or wrong bearer token");
    } else if (access_only) {
      if (errors == DrsObjectBehaviour::k_always) {
        record.status = behaviour.error_status;
        body = error_json(record.status, "scripted error");
      }
    } else {
      const auto position = static_cast<long long>(state.sequence++);
      if (errors == DrsObjectBehaviour::k_always || position < errors) {
        record.status = behaviour.error_status;
        body = error_json(record.status, "scripted error");
      } else if (position - errors < behaviour.staging_polls) {
        record.status = 202;
        body = error_json(202, "the object is being staged");
        with_retry_after = behaviour.retry_after.has_value();
        retry_after = behaviour.retry_after.value_or("");
      }
    }
  }
  if (record.status != 0) {
    finish();
    return;
  }

  // Ready: the file's facts (hashed outside m_mutex), then a fresh access URL.
  const std::string path = m_folder + "/" + id;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    record.status = 404;
    body = error_json(404, "no such object: " + id);
    finish();
    return;
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  const std::int64_t mtime_ns =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  std::string checksum;
  if (!access_only) {
    try {
      checksum = sha256_hex(path, size, mtime_ns);
    } catch (const std::exception& error) {
      record.status = 500;
      body = error_json(500, error.what());
      finish();
      return;
    }
    if (behaviour.wrong_checksum) {
      checksum[0] = checksum[0] == '0' ? '1' : '0';
    }
  }
  DrsAccessUrl access;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    access = issue_locked(id, record.token);
  }
  record.status = 200;
  if (access_only) {
    body = access_url_json(access);
    finish();
    return;
  }
  const std::string time = rfc3339(info.st_mtim.tv_sec);
  const std::string name = behaviour.name.empty() ? id : behaviour.name;
  body = "{\"id\":" + json_string(id) + ",\"name\":" + json_string(name) +
         ",\"self_uri\":" + json_string("drs://127.0.0.1:" + std::to_string(m_port) + "/" + id) +
         ",\"size\":" + std::to_string(size) + ",\"created_time\":" + json_string(time) +
         ",\"updated_time\":" + json_string(time) +
         ",\"mime_type\":\"application/octet-stream\""
         ",\"checksums\":[{\"checksum\":" +
         json_string(checksum) +
         ",\"type\":\"sha-256\"}]"
         ",\"access_methods\":[{\"type\":" +
         json_string(m_options.access_type) + ",\"access_id\":" + json_string(k_access_id);
  if (!behaviour.access_id_only) {
    body += ",\"access_url\":" + access_url_json(access);
  }
  body += "}]}";
  finish();
}

void DrsServer::answer_envelope(const std::string& id, DrsRequest& record,
                                HTTPServerResponse& response) {
  std::string body;
  std::string content_type = "application/json";
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto found = m_objects.find(id);
    if (record.authorization != "Bearer " + m_options.token) {
      record.status = 403;
      body = error_json(403, "missing or wrong work package token");
    } else if (found == m_objects.end() || !found->second.behaviour.envelope) {
      record.status = 404;
      body = error_json(404, "no envelope for " + id);
    } else {
      record.status = 200;
      body = base64(*found->second.behaviour.envelope);
      content_type = "text/plain";
    }
    m_requests.push_back(record);
  }
  send(response, record.status, body, content_type);
}

void DrsServer::authorize_bytes(HTTPServerRequest& request, DrsRequest& record) {
  // nginx's subrequest carries the client's headers and the original target.
  record.kind = Kind::bytes;
  record.target = request.get("X-Original-URI", "");
  record.range = request.get("Range", "");
  const std::string path = record.target.substr(0, record.target.find('?'));
  const std::string query = record.target.find('?') == std::string::npos
                                ? ""
                                : record.target.substr(record.target.find('?') + 1);
  if (path.rfind(k_bytes_prefix, 0) == 0) {
    record.id = path.substr(std::string(k_bytes_prefix).size());
  }
  record.token = query_parameter(query, k_token_parameter);

  std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_tokens.find(record.token);
  if (found == m_tokens.end() || found->second.id != record.id) {
    record.status = 403;
    record.refusal = "unknown token";
    return;
  }
  Token& token = found->second;
  if (!token.secret.empty() && record.authorization != "Bearer " + token.secret) {
    record.status = 403;
    record.refusal = "missing access header";
    return;
  }
  ObjectState& state = m_objects[record.id];
  const auto start = range_start(record.range);
  for (std::size_t i = 0; i < state.behaviour.range_faults.size(); ++i) {
    const DrsRangeFault& fault = state.behaviour.range_faults[i];
    int& left = state.range_fault_left[i];
    if (start && *start == fault.first_byte && left != 0) {
      if (left > 0) {
        --left;
      }
      record.status = fault.status;
      record.refusal = "range fault";
      return;
    }
  }
  const auto age = std::chrono::steady_clock::now() - token.issued;
  if (token.lifetime_ms > 0 && age >= std::chrono::milliseconds(token.lifetime_ms)) {
    record.status = 403;
    record.refusal = "expired: time";
    return;
  }
  if (token.max_requests > 0 && token.used >= token.max_requests) {
    record.status = 403;
    record.refusal = "expired: requests";
    return;
  }
  ++token.used;
  record.status = 200;
}

std::string DrsServer::sha256_hex(const std::string& path, std::uint64_t size,
                                  std::int64_t mtime_ns) {
  std::lock_guard<std::mutex> lock(m_hash_mutex);
  Checksum& cached = m_checksums[path];
  if (cached.hex.empty() || cached.size != size || cached.mtime_ns != mtime_ns) {
    shared::hash::FileHasher hasher;
    cached.hex = shared::hash::to_hex(hasher.hash_file(path).sha256, false);
    cached.size = size;
    cached.mtime_ns = mtime_ns;
  }
  return cached.hex;
}

} // namespace tests::support
