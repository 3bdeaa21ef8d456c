// shared/server: request targets and segment checks, Range parsing, signed links, routing,
// log redaction.
#include "shared/server/byte_range.hpp"
#include "shared/server/request_target.hpp"
#include "shared/server/router.hpp"
#include "shared/server/service.hpp"
#include "shared/server/signed_link.hpp"

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SocketAddress.h>
#include <catch2/catch.hpp>

#include <sstream>

using namespace shared::server;

namespace {

// Requests and responses that exist only for the router (which reads neither).
class NoResponse : public Poco::Net::HTTPServerResponse {
public:
  void sendContinue() override {}
  std::ostream& send() override { return m_out; }
  void sendFile(const std::string&, const std::string&) override {}
  void sendBuffer(const void*, std::size_t) override {}
  void redirect(const std::string&, HTTPStatus) override {}
  void requireAuthentication(const std::string&) override {}
  bool sent() const override { return false; }

private:
  std::ostringstream m_out;
};

class NoRequest : public Poco::Net::HTTPServerRequest {
public:
  std::istream& stream() override { return m_in; }
  const Poco::Net::SocketAddress& clientAddress() const override { return m_address; }
  const Poco::Net::SocketAddress& serverAddress() const override { return m_address; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return *m_params; }
  Poco::Net::HTTPServerResponse& response() const override { return m_response; }
  bool secure() const override { return false; }

private:
  std::istringstream m_in;
  Poco::Net::SocketAddress m_address;
  Poco::Net::HTTPServerParams::Ptr m_params = new Poco::Net::HTTPServerParams;
  mutable NoResponse m_response;
};

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

} // namespace

TEST_CASE("decode_segment refuses anything but one plain name", "[server]") {
  CHECK(decode_segment("photos") == "photos");
  CHECK(decode_segment("with%20space") == "with space");
  CHECK(decode_segment("%E6%97%A5") == "\xE6\x97\xA5");
  for (const std::string& bad : std::vector<std::string>{
           "", ".", "..", "%2e%2e", "%2E.", "..%2F..%2Fsecret", "a%2Fb", "a%5Cb", "%00", "a%0Ab",
           "%252e%252e", "%25", "%zz", "%4", "%", std::string(256, 'a')}) {
    INFO(bad);
    CHECK(status_of([&] { decode_segment(bad); }) == 400);
  }
  CHECK(decode_segment(std::string(255, 'a')).size() == 255);
}

TEST_CASE("split_target: origin and absolute forms, query, anything else refused", "[server]") {
  auto t = split_target("/a/b?x=1&y=%20");
  CHECK(t.path == "/a/b");
  CHECK(t.query == "x=1&y=%20");
  t = split_target("http://host:8080/archive/x/?compress=deflate");
  CHECK(t.path == "/archive/x/");
  CHECK(t.query == "compress=deflate");
  CHECK(split_target("http://host").path == "/");
  CHECK(status_of([] { split_target("*"); }) == 400);
  CHECK(status_of([] { split_target("archive/x"); }) == 400);
  CHECK(raw_segments("/a/b/") == std::vector<std::string>{"a", "b", ""});
  const auto q = parse_query("a=1&b=&c&d=x+y%21&a=2");
  CHECK(q.at("a") == "2");
  CHECK(q.at("b").empty());
  CHECK(q.count("c") == 1);
  CHECK(q.at("d") == "x y!");
  CHECK(status_of([] { parse_query("a=%g0"); }) == 400);
  CHECK(percent_encode("a b/ü") == "a%20b%2F%C3%BC");
}

TEST_CASE("parse_range: one byte range, clipped; the rest unsatisfiable or malformed", "[server]") {
  using Kind = RangeRequest::Kind;
  const auto check = [](const std::string& header, Kind kind, std::uint64_t first = 0,
                        std::uint64_t last = 0) {
    INFO(header);
    const auto r = parse_range(header, 1000);
    CHECK(r.kind == kind);
    if (kind == Kind::single) {
      CHECK(r.first == first);
      CHECK(r.last == last);
    }
  };
  check("", Kind::none);
  check("items=0-1", Kind::none);
  check("bytes=0-99", Kind::single, 0, 99);
  check("bytes=500-", Kind::single, 500, 999);
  check("bytes=-10", Kind::single, 990, 999);
  check("bytes=-5000", Kind::single, 0, 999);
  check("bytes=990-5000", Kind::single, 990, 999);
  check(" bytes = 1-2 ", Kind::single, 1, 2);
  check("bytes=999-999", Kind::single, 999, 999);
  check("bytes=1000-", Kind::unsatisfiable);
  check("bytes=-0", Kind::unsatisfiable);
  check("bytes=5-1", Kind::malformed);
  check("bytes=0-1,5-6", Kind::malformed);
  check("bytes=abc", Kind::malformed);
  check("bytes=a-b", Kind::malformed);
  check("bytes=-", Kind::malformed);
  check("bytes=99999999999999999999-", Kind::malformed);
  check("bytes", Kind::malformed);
  CHECK(parse_range("bytes=0-", 0).kind == Kind::unsatisfiable);
  CHECK(content_range(0, 9, 10) == "bytes 0-9/10");
  CHECK(unsatisfied_range(10) == "bytes */10");
}

TEST_CASE("signed links: valid, expired, tampered, malformed", "[server]") {
  const std::string secret = "s3cret";
  const std::string path = "/archive/photos/";
  const std::string signature = link_signature(secret, path, 2000);
  CHECK(signature.size() == 64);
  // RFC 4231-style check of the construction: HMAC-SHA256 over "path\nexpires".
  CHECK(link_signature("key", "The quick brown fox jumps over the lazy dog", 0) !=
        link_signature("key", "The quick brown fox jumps over the lazy dog", 1));
  std::map<std::string, std::string> q = {{"expires", "2000"}, {"signature", signature}};
  CHECK(check_link(secret, path, q, 1000) == LinkCheck::valid);
  CHECK(check_link(secret, path, q, 2001) == LinkCheck::expired);
  CHECK(check_link(secret, "/archive/other/", q, 1000) == LinkCheck::bad_signature);
  CHECK(check_link("other", path, q, 1000) == LinkCheck::bad_signature);
  q["expires"] = "2001";
  CHECK(check_link(secret, path, q, 1000) == LinkCheck::bad_signature);
  q["expires"] = "x";
  CHECK(check_link(secret, path, q, 1000) == LinkCheck::malformed);
  CHECK(check_link(secret, path, {{"expires", "2000"}}, 1000) == LinkCheck::unsigned_link);
  CHECK(sign_link(secret, path, 2000) == path + "?expires=2000&signature=" + signature);
}

TEST_CASE("redact_target masks signatures and the secret", "[server]") {
  CHECK(redact_target("/a/?expires=1&signature=abc&x=2", "") == "/a/?expires=1&signature=***&x=2");
  CHECK(redact_target("/a/s3cret/?token=t", "s3cret") == "/a/***/?token=***");
  CHECK(redact_target("/a/", "") == "/a/");
}

TEST_CASE("Router: literals, {name}, {name+}, trailing slash, HEAD as GET, Allow", "[server]") {
  Router router;
  std::string hit;
  router.add("GET", "/archive/{name}", [&](Exchange&) { hit = "archive"; });
  router.add("GET", "/v4/builds/{id}/artifacts", [&](Exchange&) { hit = "all"; });
  router.add("GET", "/v4/builds/{id}/artifacts/{path+}", [&](Exchange&) { hit = "path"; });
  router.add("POST", "/v4/builds/{id}/artifacts/{path+}", [&](Exchange&) { hit = "post"; });
  NoRequest request;
  NoResponse response;
  const auto find = [&](const std::string& method, const std::string& path) {
    auto exchange = std::make_unique<Exchange>(request, response);
    const Router::Route* route = router.find(method, path, *exchange);
    if (route != nullptr) {
      route->handler(*exchange);
    } else {
      hit = "none";
    }
    return exchange;
  };
  CHECK(find("GET", "/archive/a%20b/")->params.at("name") == "a b");
  CHECK(hit == "archive");
  find("HEAD", "/archive/x");
  CHECK(hit == "archive");
  find("POST", "/archive/x/");
  CHECK(hit == "none");
  find("GET", "/archive/x/y/");
  CHECK(hit == "none");
  find("GET", "/%61rchive/x/");
  CHECK(hit == "none");
  CHECK(find("GET", "/v4/builds/42/artifacts")->params.at("id") == "42");
  CHECK(hit == "all");
  CHECK(find("GET", "/v4/builds/42/artifacts/a/b%2Ec/")->rest ==
        std::vector<std::string>{"a", "b.c"});
  CHECK(hit == "path");
  find("POST", "/v4/builds/42/artifacts/a");
  CHECK(hit == "post");
  CHECK(status_of([&] { find("GET", "/archive/%2e%2e/"); }) == 400);
  CHECK(status_of([&] { find("GET", "/v4/builds/1/artifacts/a/../b"); }) == 400);
  CHECK(router.allowed("/archive/x/") == std::vector<std::string>{"GET", "HEAD", "OPTIONS"});
  CHECK(router.allowed("/v4/builds/1/artifacts/x") ==
        std::vector<std::string>{"GET", "HEAD", "OPTIONS", "POST"});
  CHECK(router.allowed("/").empty());
  CHECK(router.allowed("/archive/").empty());
  CHECK_THROWS_AS(router.add("GET", "archive", [](Exchange&) {}), std::invalid_argument);
  CHECK_THROWS_AS(router.add("GET", "/{a+}/b", [](Exchange&) {}), std::invalid_argument);
}
