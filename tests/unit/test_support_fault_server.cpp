#include "tests/support/fault_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <istream>
#include <memory>
#include <string>
#include <zlib.h>

using namespace tests::support;
using Poco::Net::HTTPClientSession;
using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

namespace {

using Fault = FaultReply::Fault;
using Headers = std::vector<std::pair<std::string, std::string>>;

// A keep-alive client session to `server`, with a 5 s timeout.
std::unique_ptr<HTTPClientSession> session_for(const FaultServer& server) {
  auto session =
      std::make_unique<HTTPClientSession>("127.0.0.1", static_cast<Poco::UInt16>(server.port()));
  session->setKeepAlive(true);
  session->setTimeout(Poco::Timespan(5, 0));
  return session;
}

// Sends one request on `session` and reads the whole body (however the body ends).
std::string fetch(HTTPClientSession& session, const std::string& target, HTTPResponse& response,
                  const Headers& headers = {}, const std::string& method = HTTPRequest::HTTP_GET) {
  HTTPRequest request(method, target, HTTPRequest::HTTP_1_1);
  request.setKeepAlive(true);
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  session.sendRequest(request);
  std::istream& in = session.receiveResponse(response);
  in.exceptions(std::ios::badbit); // rethrow what Poco's stream buffer throws (reset, timeout)
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  return body;
}

std::string fetch(HTTPClientSession& session, const std::string& target,
                  const Headers& headers = {}) {
  HTTPResponse response;
  return fetch(session, target, response, headers);
}

// Inflates a gzip stream; false when it is not a complete, valid one.
bool gunzip(const std::string& compressed, std::string& out) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) {
    return false;
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int result = Z_OK;
  char chunk[4096];
  while (result == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    result = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - stream.avail_out);
  }
  inflateEnd(&stream);
  return result == Z_STREAM_END;
}

std::string pattern(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    text[i] = static_cast<char>('a' + i % 26);
  }
  return text;
}

} // namespace

TEST_CASE("fault server: keep-alive connections carry several requests", "[fault_server]") {
  FaultServer server;
  server.serve("/a", "alpha");
  server.serve("/b", "beta");
  auto session = session_for(server);
  HTTPResponse response;
  CHECK(fetch(*session, "/a", response) == "alpha");
  CHECK(response.getStatus() == HTTPResponse::HTTP_OK);
  CHECK(response.getContentLength() == 5);
  CHECK(response.getKeepAlive());
  CHECK(fetch(*session, "/b?x=1") == "beta");
  CHECK(fetch(*session, "/a") == "alpha");
  CHECK(server.connection_count() == 1);
  CHECK(server.request_count("/a") == 2);
  CHECK(server.request_count("/b") == 1);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].target == "/b?x=1");
  CHECK(requests[2].connection_id == requests[0].connection_id);
  CHECK(server.url("/a") == "http://127.0.0.1:" + std::to_string(server.port()) + "/a");
}

TEST_CASE("fault server: scripted replies come in order, the last repeats", "[fault_server]") {
  FaultServer server;
  FaultReply busy;
  busy.status = 503;
  busy.headers = {{"Retry-After", "2"}};
  busy.body = "busy";
  FaultReply ok;
  ok.body = "done";
  server.on("/f", {busy, ok});
  auto session = session_for(server);
  HTTPResponse response;
  CHECK(fetch(*session, "/f", response) == "busy");
  CHECK(response.getStatus() == HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
  CHECK(response.get("Retry-After") == "2");
  CHECK(fetch(*session, "/f", response) == "done");
  CHECK(response.getStatus() == HTTPResponse::HTTP_OK);
  CHECK(fetch(*session, "/f", response) == "done");
  CHECK(server.request_count("/f") == 3);
}

TEST_CASE("fault server: unknown paths, HEAD and redirects", "[fault_server]") {
  FaultServer server;
  server.serve("/file", "0123456789");
  server.redirect("/old", server.url("/file"));
  auto session = session_for(server);
  HTTPResponse response;
  fetch(*session, "/missing", response);
  CHECK(response.getStatus() == HTTPResponse::HTTP_NOT_FOUND);
  CHECK(fetch(*session, "/file", response, {}, HTTPRequest::HTTP_HEAD).empty());
  CHECK(response.getContentLength() == 10);
  CHECK(response.getContentType() == "application/octet-stream");
  fetch(*session, "/old", response);
  CHECK(response.getStatus() == HTTPResponse::HTTP_FOUND);
  CHECK(response.get("Location") == server.url("/file"));
  CHECK(fetch(*session, "/file") == "0123456789"); // still the same connection
  CHECK(server.connection_count() == 1);
}

TEST_CASE("fault server: a short body has fewer bytes than its Content-Length", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = pattern(1000);
  reply.fault = Fault::short_body;
  server.on("/short", {reply});
  auto session = session_for(server);
  HTTPResponse response;
  const std::string body = fetch(*session, "/short", response);
  CHECK(response.getContentLength() == 1000);
  CHECK(body == pattern(500));
}

TEST_CASE("fault server: a reset mid-body breaks the connection", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = pattern(200000);
  reply.fault = Fault::reset_mid_body;
  server.on("/reset", {reply});
  auto session = session_for(server);
  HTTPRequest request(HTTPRequest::HTTP_GET, "/reset", HTTPRequest::HTTP_1_1);
  session->sendRequest(request);
  HTTPResponse response;
  std::istream& in = session->receiveResponse(response);
  CHECK(response.getContentLength() == 200000);
  // By default std::istream swallows the exception: the body just ends early, the stream is
  // bad, and the session keeps the exception.
  // (Read byte by byte: istream::read() loses the bytes of the call that meets the reset.)
  std::string body;
  for (char byte = 0; in.get(byte);) {
    body += byte;
  }
  CHECK(in.bad());
  CHECK(body.size() == 100000);
  CHECK(body == pattern(100000));
  REQUIRE(session->networkException() != nullptr);
  CHECK(dynamic_cast<const Poco::Net::ConnectionResetException*>(session->networkException()));
  // With badbit in the exception mask, the reset is rethrown.
  session->reset();
  session->sendRequest(request);
  std::istream& again = session->receiveResponse(response);
  again.exceptions(std::ios::badbit);
  CHECK_THROWS_AS(Poco::StreamCopier::copyToString(again, body),
                  Poco::Net::ConnectionResetException);
}

TEST_CASE("fault server: gzip bodies inflate to the original, broken ones do not",
          "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = pattern(10000);
  reply.fault = Fault::gzip;
  server.on("/gz", {reply});
  reply.fault = Fault::broken_gzip;
  server.on("/broken", {reply});
  auto session = session_for(server);
  HTTPResponse response;
  const std::string compressed = fetch(*session, "/gz", response);
  CHECK(response.get("Content-Encoding") == "gzip");
  CHECK(response.getContentLength() == static_cast<std::streamsize>(compressed.size()));
  CHECK(compressed.size() < 10000);
  std::string inflated;
  CHECK(gunzip(compressed, inflated));
  CHECK(inflated == reply.body);

  const std::string broken = fetch(*session, "/broken", response);
  CHECK(response.getContentLength() == static_cast<std::streamsize>(broken.size()));
  CHECK(broken.size() == compressed.size() / 2);
  inflated.clear();
  CHECK_FALSE(gunzip(broken, inflated));
  CHECK(server.connection_count() == 1);
}

TEST_CASE("fault server: byte ranges", "[fault_server]") {
  FaultServer server;
  server.serve("/r", "0123456789");
  auto session = session_for(server);
  HTTPResponse response;
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=2-5"}}) == "2345");
  CHECK(response.getStatus() == HTTPResponse::HTTP_PARTIAL_CONTENT);
  CHECK(response.get("Content-Range") == "bytes 2-5/10");
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=7-"}}) == "789");
  CHECK(response.get("Content-Range") == "bytes 7-9/10");
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=-3"}}) == "789");
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=8-100"}}) == "89");
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=10-"}}).empty());
  CHECK(response.getStatus() == HTTPResponse::HTTP_REQUESTED_RANGE_NOT_SATISFIABLE);
  CHECK(response.get("Content-Range") == "bytes */10");
  CHECK(fetch(*session, "/r", response, {{"Range", "bytes=0-1,4-5"}}) == "0123456789");
  CHECK(response.getStatus() == HTTPResponse::HTTP_OK);
  CHECK(server.connection_count() == 1);
}

TEST_CASE("fault server: a download resumed with a range after a short body", "[fault_server]") {
  FaultServer server;
  FaultReply broken;
  broken.body = "0123456789";
  broken.fault = Fault::short_body;
  FaultReply whole;
  whole.body = broken.body;
  server.on("/resume", {broken, whole});
  std::string first;
  {
    auto session = session_for(server);
    first = fetch(*session, "/resume");
  }
  CHECK(first == "01234");
  auto session = session_for(server);
  CHECK(fetch(*session, "/resume", {{"Range", "bytes=" + std::to_string(first.size()) + "-"}}) ==
        "56789");
  CHECK(server.connection_count() == 2);
}

TEST_CASE("fault server: request headers are recorded", "[fault_server]") {
  FaultServer server;
  server.serve("/h", "x");
  auto session = session_for(server);
  fetch(*session, "/h", {{"Authorization", "Bearer secret"}, {"X-Custom", "1"}});
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].headers.at("authorization") == "Bearer secret");
  CHECK(requests[0].headers.at("x-custom") == "1");
  CHECK(requests[0].headers.count("host") == 1);
  CHECK(requests[0].connection_id == 1);
}

TEST_CASE("fault server: chunked and connection-delimited bodies", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = pattern(10000);
  reply.fault = Fault::chunked;
  server.on("/chunked", {reply});
  reply.fault = Fault::no_content_length;
  server.on("/eof", {reply});
  auto session = session_for(server);
  HTTPResponse response;
  CHECK(fetch(*session, "/chunked", response) == reply.body);
  CHECK(response.getChunkedTransferEncoding());
  CHECK(fetch(*session, "/eof", response) == reply.body);
  CHECK_FALSE(response.hasContentLength());
  CHECK_FALSE(response.getKeepAlive());
}

TEST_CASE("fault server: closing connections", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = "bye";
  reply.fault = Fault::close_after;
  server.on("/close", {reply});
  reply.fault = Fault::drop_keep_alive;
  server.on("/drop", {reply});
  server.serve("/ok", "ok");

  auto session = session_for(server);
  HTTPResponse response;
  CHECK(fetch(*session, "/close", response) == "bye");
  CHECK_FALSE(response.getKeepAlive());
  CHECK(fetch(*session, "/ok") == "ok"); // the session reconnects
  CHECK(server.connection_count() == 2);

  CHECK(fetch(*session, "/drop", response) == "bye");
  CHECK(response.getKeepAlive());
  // The session believes the connection is alive; the server has closed it.
  CHECK_THROWS_AS(fetch(*session, "/ok"), Poco::Exception);
  session->reset();
  CHECK(fetch(*session, "/ok") == "ok");
  CHECK(server.connection_count() == 3);
}

TEST_CASE("fault server: a dripping body trips a read timeout", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = "abc";
  reply.fault = Fault::drip;
  reply.drip_interval_ms = 20;
  server.on("/slow", {reply});
  reply.drip_interval_ms = 1000;
  server.on("/slower", {reply});
  auto session = session_for(server);
  const auto start = std::chrono::steady_clock::now();
  CHECK(fetch(*session, "/slow") == "abc");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(60));
  // HTTPClientSession applies a new timeout only when it (re)connects.
  session->setTimeout(Poco::Timespan(0, 100 * 1000));
  session->reset();
  CHECK_THROWS_AS(fetch(*session, "/slower"), Poco::TimeoutException);
}

TEST_CASE("fault server: a delayed reply trips a read timeout", "[fault_server]") {
  FaultServer server;
  FaultReply reply;
  reply.body = "late";
  reply.delay_ms = 1000;
  server.on("/late", {reply});
  auto session = session_for(server);
  session->setTimeout(Poco::Timespan(0, 100 * 1000));
  CHECK_THROWS_AS(fetch(*session, "/late"), Poco::TimeoutException);
}

TEST_CASE("fault server: the destructor returns promptly with clients connected",
          "[fault_server]") {
  auto server = std::make_unique<FaultServer>();
  server->serve("/a", "alpha");
  FaultReply reply;
  reply.body = pattern(100);
  reply.fault = Fault::drip;
  reply.drip_interval_ms = 1000;
  server->on("/drip", {reply});
  auto idle = session_for(*server);
  CHECK(fetch(*idle, "/a") == "alpha"); // connection kept open, idle
  Poco::Net::StreamSocket silent(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server->port())));
  auto dripping = session_for(*server);
  HTTPRequest request(HTTPRequest::HTTP_GET, "/drip", HTTPRequest::HTTP_1_1);
  dripping->sendRequest(request);
  HTTPResponse response;
  dripping->receiveResponse(response); // the body is now dripping
  const auto start = std::chrono::steady_clock::now();
  server.reset();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
}
