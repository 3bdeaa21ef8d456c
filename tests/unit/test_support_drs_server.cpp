#include "shared/hash/sha256.hpp"
#include "tests/support/drs_server.hpp"
#include "tests/support/temp_dir.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace tests::support;
using Poco::Net::HTTPResponse;

namespace {

using Headers = std::vector<std::string>; // "Name: value" lines, as DRS AccessURL headers

struct Reply {
  int status = 0;
  std::string body;
  HTTPResponse response;
};

// GET `url` on a fresh connection with `headers`.
Reply get(const std::string& url, const Headers& headers = {}) {
  const Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathEtc(),
                                 Poco::Net::HTTPRequest::HTTP_1_1);
  for (const auto& line : headers) {
    const auto colon = line.find(':');
    request.set(line.substr(0, colon), line.substr(line.find_first_not_of(' ', colon + 1)));
  }
  session.sendRequest(request);
  Reply reply;
  std::istream& in = session.receiveResponse(reply.response);
  Poco::StreamCopier::copyToString(in, reply.body);
  reply.status = reply.response.getStatus();
  return reply;
}

Poco::JSON::Object::Ptr parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

// The access URL and its headers from a DrsObject.
DrsAccessUrl access_url_of(const Poco::JSON::Object::Ptr& object) {
  const auto method = object->getArray("access_methods")->getObject(0);
  const auto access = method->getObject("access_url");
  DrsAccessUrl result;
  result.url = access->getValue<std::string>("url");
  const auto headers = access->getArray("headers");
  for (std::size_t i = 0; headers && i < headers->size(); ++i) {
    result.headers.push_back(headers->getElement<std::string>(static_cast<unsigned>(i)));
  }
  return result;
}

// GET /objects/{id}, which must answer 200; its access URL.
DrsAccessUrl fresh_access(DrsServer& server, const std::string& id) {
  const Reply reply = get(server.object_url(id));
  REQUIRE(reply.status == 200);
  return access_url_of(parse(reply.body));
}

Headers with_range(Headers headers, const std::string& range) {
  headers.push_back("Range: " + range);
  return headers;
}

std::string decode_base64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string out;
  Poco::StreamCopier::copyToString(decoder, out);
  return out;
}

const std::string k_content = "0123456789abcdefghijklmnopqrstuvwxyz"; // 36 bytes

} // namespace

TEST_CASE("drs server: a ready object is a DRS 1.2 DrsObject with a working access URL",
          "[support]") {
  TempDir folder;
  write_file(folder / "obj1", k_content);
  DrsServer server(folder.path());
  CHECK(server.base_url() == "http://127.0.0.1:" + std::to_string(server.port()) + "/ga4gh/drs/v1");

  const Reply reply = get(server.object_url("obj1"));
  REQUIRE(reply.status == 200);
  CHECK(reply.response.getContentType() == "application/json");
  const auto object = parse(reply.body);
  CHECK(object->getValue<std::string>("id") == "obj1");
  CHECK(object->getValue<std::string>("name") == "obj1");
  CHECK(object->getValue<std::string>("self_uri") ==
        "drs://127.0.0.1:" + std::to_string(server.port()) + "/obj1");
  CHECK(object->getValue<std::uint64_t>("size") == k_content.size());
  CHECK(object->getValue<std::string>("created_time").size() == 20); // 2024-01-02T03:04:05Z
  const auto checksum = object->getArray("checksums")->getObject(0);
  CHECK(checksum->getValue<std::string>("type") == "sha-256");
  CHECK(checksum->getValue<std::string>("checksum") ==
        shared::hash::to_hex(shared::hash::sha256(k_content), false));
  const auto method = object->getArray("access_methods")->getObject(0);
  CHECK(method->getValue<std::string>("type") == "https");
  CHECK(method->getValue<std::string>("access_id") == "nginx");

  const DrsAccessUrl access = access_url_of(object);
  CHECK(access.url.rfind(server.nginx().url("/drs-bytes/obj1?X-Amz-Signature="), 0) == 0);
  REQUIRE(access.headers.size() == 1);
  CHECK(access.headers[0].rfind("Authorization: Bearer ", 0) == 0);

  // nginx serves the range; the server saw the request (and its Range) first.
  const Reply part = get(access.url, with_range(access.headers, "bytes=10-19"));
  CHECK(part.status == 206);
  CHECK(part.body == "abcdefghij");
  CHECK(part.response.get("Content-Range") == "bytes 10-19/36");
  CHECK(part.response.get("Server").rfind("nginx", 0) == 0);
  CHECK(get(access.url, access.headers).body == k_content);

  // Without the access URL's header, or with another token: 403.
  CHECK(get(access.url, {"Range: bytes=0-3"}).status == 403);
  CHECK(get(server.nginx().url("/drs-bytes/obj1?X-Amz-Signature=0000"), access.headers).status ==
        403);
  CHECK(get(server.nginx().url("/obj1")).status == 404); // no way around the token

  CHECK(server.object_requests("obj1") == 1);
  CHECK(server.access_urls_issued("obj1") == 1);
  const auto bytes = server.byte_requests("obj1");
  REQUIRE(bytes.size() == 4);
  CHECK(bytes[0].range == "bytes=10-19");
  CHECK(bytes[0].status == 200);
  CHECK(bytes[0].refusal.empty());
  CHECK(bytes[1].range.empty());
  CHECK(bytes[2].status == 403);
  CHECK(bytes[2].refusal == "missing access header");
  CHECK(bytes[3].refusal == "unknown token");

  CHECK(get(server.object_url("missing")).status == 404);
  CHECK(get(server.base_url() + "/other").status == 404);
}

TEST_CASE("drs server: staging answers 202 with Retry-After, then 200", "[support]") {
  TempDir folder;
  write_file(folder / "cold", k_content);
  write_file(folder / "bad", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour staging;
  staging.staging_polls = 2;
  staging.retry_after = "0";
  server.set_behaviour("cold", staging);

  for (int poll = 0; poll < 2; ++poll) {
    const Reply reply = get(server.object_url("cold"));
    CHECK(reply.status == 202);
    CHECK(reply.response.get("Retry-After", "none") == "0");
  }
  CHECK(get(server.object_url("cold")).status == 200);
  CHECK(get(server.object_url("cold")).status == 200);
  CHECK(server.object_requests("cold") == 4);
  CHECK(server.access_urls_issued("cold") == 2);

  // 202 without Retry-After: the client's problem to report.
  DrsObjectBehaviour no_header;
  no_header.staging_polls = 1;
  no_header.retry_after.reset();
  server.set_behaviour("bad", no_header);
  const Reply reply = get(server.object_url("bad"));
  CHECK(reply.status == 202);
  CHECK_FALSE(reply.response.has("Retry-After"));
  CHECK(get(server.object_url("bad")).status == 200);
}

TEST_CASE("drs server: scripted errors on GET /objects/{id}", "[support]") {
  TempDir folder;
  for (const char* id : {"gone", "once", "always", "busy"}) {
    write_file(folder / id, k_content);
  }
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.error_status = 404;
  behaviour.error_times = DrsObjectBehaviour::k_always;
  server.set_behaviour("gone", behaviour);
  behaviour.error_status = 403;
  server.set_behaviour("always", behaviour);
  behaviour.error_times = 1;
  server.set_behaviour("once", behaviour);
  behaviour.error_status = 503;
  behaviour.error_times = 2;
  server.set_behaviour("busy", behaviour);

  for (int i = 0; i < 3; ++i) {
    CHECK(get(server.object_url("gone")).status == 404);
    CHECK(get(server.object_url("always")).status == 403);
  }
  const Reply first = get(server.object_url("once"));
  CHECK(first.status == 403);
  CHECK(parse(first.body)->getValue<int>("status_code") == 403);
  CHECK(get(server.object_url("once")).status == 200);
  CHECK(get(server.object_url("busy")).status == 503);
  CHECK(get(server.object_url("busy")).status == 503);
  CHECK(get(server.object_url("busy")).status == 200);
  CHECK(server.object_requests("gone") == 3);
  CHECK(server.object_requests("busy") == 3);
  CHECK(server.access_urls_issued("gone") == 0);

  // Setting a behaviour again restarts its sequence.
  server.set_behaviour("busy", behaviour);
  CHECK(get(server.object_url("busy")).status == 503);
}

TEST_CASE("drs server: a wrong checksum and a name", "[support]") {
  TempDir folder;
  write_file(folder / "f1", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.wrong_checksum = true;
  behaviour.name = "reads.bam";
  server.set_behaviour("f1", behaviour);
  const auto object = parse(get(server.object_url("f1")).body);
  const std::string checksum =
      object->getArray("checksums")->getObject(0)->getValue<std::string>("checksum");
  CHECK(checksum.size() == 64);
  CHECK(checksum != shared::hash::to_hex(shared::hash::sha256(k_content), false));
  CHECK(object->getValue<std::string>("name") == "reads.bam");
}

TEST_CASE("drs server: GHGA envelopes need the work package token", "[support]") {
  TempDir folder;
  write_file(folder / "GHGAF1", k_content);
  DrsServer server(folder.path(), [] {
    DrsServerOptions options;
    options.token = "wp-secret";
    return options;
  }());
  const std::string envelope("crypt4gh\x01\x00\x00\x00\xff header", 21);
  server.set_envelope("GHGAF1", envelope);
  const std::string url = server.object_url("GHGAF1") + "/envelopes";

  const Reply reply = get(url, {"Authorization: Bearer wp-secret"});
  CHECK(reply.status == 200);
  CHECK(decode_base64(reply.body) == envelope);
  CHECK(reply.body.find('\n') == std::string::npos);
  CHECK(get(url).status == 403);
  CHECK(get(url, {"Authorization: Bearer other"}).status == 403);
  CHECK(
      get(server.object_url("GHGAF2") + "/envelopes", {"Authorization: Bearer wp-secret"}).status ==
      404);
  CHECK(server.envelope_requests("GHGAF1") == 3);
  // The object endpoint does not need the token unless asked to.
  CHECK(get(server.object_url("GHGAF1")).status == 200);
}

TEST_CASE("drs server: objects_require_token", "[support]") {
  TempDir folder;
  write_file(folder / "a", k_content);
  DrsServerOptions options;
  options.objects_require_token = true;
  options.access_url_headers = false;
  DrsServer server(folder.path(), options);
  CHECK(get(server.object_url("a")).status == 403);
  const Reply reply = get(server.object_url("a"), {"Authorization: Bearer work-package-token"});
  REQUIRE(reply.status == 200);
  const DrsAccessUrl access = access_url_of(parse(reply.body));
  CHECK(access.headers.empty());
  CHECK(get(access.url, {"Range: bytes=0-0"}).body == "0");
}

TEST_CASE("drs server: access URLs expire after N byte requests", "[support]") {
  TempDir folder;
  write_file(folder / "x", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.url_max_requests = 2;
  server.set_behaviour("x", behaviour);

  const DrsAccessUrl old_url = fresh_access(server, "x");
  CHECK(get(old_url.url, with_range(old_url.headers, "bytes=0-9")).status == 206);
  CHECK(get(old_url.url, with_range(old_url.headers, "bytes=10-19")).status == 206);
  CHECK(get(old_url.url, with_range(old_url.headers, "bytes=20-29")).status == 403);

  // Asking GET /objects/{id} again gives a fresh URL with its own count.
  const DrsAccessUrl new_url = fresh_access(server, "x");
  CHECK(new_url.url != old_url.url);
  const Reply part = get(new_url.url, with_range(new_url.headers, "bytes=20-35"));
  CHECK(part.status == 206);
  CHECK(part.body == k_content.substr(20));
  CHECK(get(old_url.url, with_range(old_url.headers, "bytes=20-29")).status == 403);

  const auto bytes = server.byte_requests("x");
  REQUIRE(bytes.size() == 5);
  CHECK(bytes[2].refusal == "expired: requests");
  CHECK(bytes[3].token != bytes[2].token);
  CHECK(bytes[3].status == 200);
  CHECK(server.access_urls_issued("x") == 2);
}

TEST_CASE("drs server: access URLs expire after T milliseconds", "[support]") {
  TempDir folder;
  write_file(folder / "x", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.url_lifetime_ms = 300;
  server.set_behaviour("x", behaviour);
  const DrsAccessUrl access = fresh_access(server, "x");
  CHECK(get(access.url, with_range(access.headers, "bytes=0-9")).status == 206);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(get(access.url, with_range(access.headers, "bytes=0-9")).status == 403);
  CHECK(server.byte_requests("x").back().refusal == "expired: time");
  CHECK(get(server.issue_access_url("x").url, with_range(access.headers, "bytes=0-9")).status ==
        403); // a fresh URL has a fresh secret: the old header does not fit
  const DrsAccessUrl fresh = server.issue_access_url("x");
  CHECK(get(fresh.url, with_range(fresh.headers, "bytes=0-9")).status == 206);
}

TEST_CASE("drs server: range faults answer one part with an error", "[support]") {
  TempDir folder;
  write_file(folder / "x", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.range_faults = {{10, 500, 1}, {20, 403, 2}};
  server.set_behaviour("x", behaviour);
  const DrsAccessUrl access = fresh_access(server, "x");
  const auto part = [&](const std::string& range) {
    return get(access.url, with_range(access.headers, range)).status;
  };
  CHECK(part("bytes=0-9") == 206);
  CHECK(part("bytes=10-19") == 500);
  CHECK(part("bytes=10-19") == 206);
  CHECK(part("bytes=20-35") == 403);
  CHECK(part("bytes=20-35") == 403);
  CHECK(part("bytes=20-35") == 206);
  CHECK(server.byte_requests("x")[1].refusal == "range fault");

  behaviour.range_faults = {{0, 404, 1}};
  CHECK_THROWS_AS(server.set_behaviour("x", behaviour), std::invalid_argument);
  CHECK_THROWS_AS(server.set_behaviour("a/b", DrsObjectBehaviour{}), std::invalid_argument);
}

TEST_CASE("drs server: access_id only, and the access endpoint", "[support]") {
  TempDir folder;
  write_file(folder / "x", k_content);
  DrsServer server(folder.path());
  DrsObjectBehaviour behaviour;
  behaviour.access_id_only = true;
  server.set_behaviour("x", behaviour);
  const auto object = parse(get(server.object_url("x")).body);
  const auto method = object->getArray("access_methods")->getObject(0);
  CHECK_FALSE(method->has("access_url"));
  const std::string access_id = method->getValue<std::string>("access_id");

  const Reply reply = get(server.object_url("x") + "/access/" + access_id);
  REQUIRE(reply.status == 200);
  const auto access = parse(reply.body);
  const std::string url = access->getValue<std::string>("url");
  const std::string header = access->getArray("headers")->getElement<std::string>(0);
  CHECK(get(url, {header, "Range: bytes=0-3"}).body == "0123");
  CHECK(get(server.object_url("x") + "/access/other").status == 404);
  CHECK(server.access_requests("x") == 2);
  CHECK(server.object_requests("x") == 1);
}

TEST_CASE("drs server: parts fetched in parallel through nginx", "[support]") {
  TempDir folder;
  std::string content(1 << 20, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 7919) % 251);
  }
  write_file(folder / "big", content);
  DrsServer server(folder.path());
  const DrsAccessUrl access = fresh_access(server, "big");
  constexpr std::size_t k_parts = 8;
  const std::size_t part_size = content.size() / k_parts;
  std::vector<std::string> parts(k_parts);
  std::vector<int> statuses(k_parts);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < k_parts; ++i) {
    threads.emplace_back([&, i] {
      const std::string range =
          "bytes=" + std::to_string(i * part_size) + "-" + std::to_string((i + 1) * part_size - 1);
      const Reply reply = get(access.url, with_range(access.headers, range));
      statuses[i] = reply.status;
      parts[i] = reply.body;
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::string joined;
  for (std::size_t i = 0; i < k_parts; ++i) {
    CHECK(statuses[i] == 206);
    joined += parts[i];
  }
  CHECK(joined == content);
  CHECK(server.byte_requests("big").size() == k_parts);
}
