// The HTTP client against our FaultServer: bodies of every framing, retries of bodies cut short,
// timeouts, keep-alive, and a sink that gives up.
#include "shared/error/error.hpp"
#include "shared/http/client.hpp"
#include "shared/http/errors.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/random_bytes.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>

using namespace tests::support;
using shared::http::Client;
using shared::http::ClientOptions;
using Fault = FaultReply::Fault;

namespace {

struct Fixture {
  std::ostringstream out, err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  ClientOptions options;

  Fixture() {
    options.retry.retries = 2;
    options.retry.base_delay = 0.01;
  }
};

FaultReply reply(const std::string& body, Fault fault = Fault::none, int status = 200) {
  FaultReply r;
  r.body = body;
  r.fault = fault;
  r.status = status;
  return r;
}

// Keeps the body and counts restarts; throws `failure` from write() once `fail_after` bytes
// have come, when set.
class CountingSink : public shared::http::BodySink {
public:
  void write(const char* data, std::size_t size) override {
    body.append(data, size);
    if (failure && body.size() >= fail_after) {
      std::rethrow_exception(failure);
    }
  }
  void restart() override {
    body.clear();
    ++restarts;
  }
  std::string body;
  int restarts = 0;
  std::exception_ptr failure;
  std::size_t fail_after = 0;
};

} // namespace

TEST_CASE("http client: a body of known length arrives whole; the connection is reused", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes((3u << 20) + 4321, 5);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  CHECK(client.get_text(server.url("/blob")) == body);
  CHECK(client.get_text(server.url("/blob")) == body);
  CHECK(client.connections() == 1);
  CHECK(client.retries() == 0);
}

TEST_CASE("http client: gzip, chunked and connection-delimited bodies arrive decoded", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(1u << 20, 6);
  const Fault fault = GENERATE(Fault::gzip, Fault::chunked, Fault::no_content_length);
  server.on("/blob", {reply(body, fault)});
  Client client(f.options, f.logger);
  CHECK(client.get_text(server.url("/blob")) == body);
  CHECK(client.retries() == 0);
}

TEST_CASE("http client: a body cut short, reset or broken is retried from its first byte",
          "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 7);
  const Fault fault = GENERATE(Fault::short_body, Fault::reset_mid_body, Fault::broken_gzip,
                               Fault::chunked_truncated);
  server.on("/blob", {reply(body, fault), reply(body)});
  Client client(f.options, f.logger);
  CountingSink sink;
  client.get(server.url("/blob"), sink);
  CHECK(sink.body == body);
  CHECK(sink.restarts == 1);
  CHECK(client.retries() == 1);
}

TEST_CASE("http client: without retries left, the error says what was wrong with the body",
          "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 7);
  const auto [fault, message] = GENERATE(table<Fault, std::string>({
      {Fault::short_body, "of 2097152 bytes (Content-Length)"},
      {Fault::broken_gzip, "broken gzip stream"},
      {Fault::chunked_truncated, "chunked body ended before its last chunk"},
  }));
  server.on("/blob", {reply(body, fault)});
  f.options.retry.retries = 0;
  Client client(f.options, f.logger);
  try {
    client.get_text(server.url("/blob"));
    FAIL("a broken body was taken");
  } catch (const shared::http::NetworkError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(message) != std::string::npos);
    CHECK(std::string(e.what()).find("(after 0 retries)") != std::string::npos);
  }
}

TEST_CASE("http client: a body that stalls ends with the read timeout", "[http]") {
  Fixture f;
  FaultServer server;
  FaultReply drip = reply(random_bytes(1u << 20, 8), Fault::drip);
  drip.drip_interval_ms = 5000; // a byte every 5 s: past the timeout below
  server.on("/blob", {drip});
  f.options.retry.retries = 0;
  f.options.read_timeout = 1; // long enough for the headers on a loaded machine
  Client client(f.options, f.logger);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(client.get_text(server.url("/blob")), shared::http::NetworkError);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("http client: a sink that gives up ends the request unretried; the client goes on",
          "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 11);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  CountingSink sink;
  sink.fail_after = 1;
  SECTION("a local I/O error") {
    sink.failure = std::make_exception_ptr(shared::error::IoError("disk full"));
    CHECK_THROWS_AS(client.get(server.url("/blob"), sink), shared::error::IoError);
  }
  SECTION("a cancel") {
    sink.failure = std::make_exception_ptr(shared::error::Interrupted());
    CHECK_THROWS_AS(client.get(server.url("/blob"), sink), shared::error::Interrupted);
  }
  CHECK(sink.body.size() < body.size());
  CHECK(client.retries() == 0);
  CHECK(server.request_count("/blob") == 1);
  // The rest of that body was left on the connection: the next request opens a new one.
  CHECK(client.get_text(server.url("/blob")) == body);
  CHECK(client.connections() == 2);
}

TEST_CASE("http client: a keep-alive connection the server closed gets a fresh try, not a retry",
          "[http]") {
  Fixture f;
  FaultServer server;
  server.on("/first", {reply("one", Fault::drop_keep_alive)});
  server.serve("/second", "two");
  f.options.retry.retries = 0;
  Client client(f.options, f.logger);
  CHECK(client.get_text(server.url("/first")) == "one");
  CHECK(client.get_text(server.url("/second")) == "two");
  CHECK(client.retries() == 0);
  CHECK(client.connections() == 2);
}

TEST_CASE("http client: statuses: retried, or failing at once with the status", "[http]") {
  Fixture f;
  FaultServer server;
  server.on("/busy", {reply("busy", Fault::none, 503), reply("fine")});
  server.on("/gone", {reply("gone", Fault::none, 404)});
  Client client(f.options, f.logger);
  CHECK(client.get_text(server.url("/busy")) == "fine");
  CHECK(client.retries() == 1);
  try {
    client.get_text(server.url("/gone"));
    FAIL("a 404 was taken");
  } catch (const shared::http::HttpStatusError& e) {
    CHECK(e.status() == 404);
    CHECK(std::string(e.what()) == "GET " + server.url("/gone") + ": 404 Not Found");
  }
  CHECK(server.request_count("/gone") == 1);
  CHECK(client.connections() == 1); // the small error bodies were read to their end
}

TEST_CASE("http client: redirects are followed, relative or absolute; HEAD sees the last answer",
          "[http]") {
  Fixture f;
  FaultServer server;
  server.redirect("/a", "/b", 301);
  server.redirect("/b", server.url("/c"), 307);
  server.serve("/c", "here");
  Client client(f.options, f.logger);
  CHECK(client.get_text(server.url("/a")) == "here");
  const shared::http::Response head = client.head(server.url("/a"));
  CHECK(head.status == 200);
  CHECK(head.url == server.url("/c"));
  CHECK(head.content_length == 4u);
}
