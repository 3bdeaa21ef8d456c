// shared/transfer/ranged_download: one file in Range parts (RFC 9110 §14) against FaultServer,
// with the SHA-256 computed as the parts land.
#include "shared/error/error.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/http/errors.hpp"
#include "shared/transfer/ranged_download.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <string>

using namespace tests::support;
using shared::source::AccessUrl;
using shared::transfer::RangedOptions;

namespace {

struct Run {
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  RangedOptions options;
  shared::progress::Reporter progress{logger, shared::progress::Mode::off, "", "", 1, 0};
  Run() {
    options.http.retry.retries = 3;
    options.http.retry.base_delay = 0.01;
  }
  shared::transfer::RangedResult fetch(const FaultServer& server, const std::string& path,
                                       std::uint64_t size, const std::string& content_for_sha,
                                       const std::string& head = {}) {
    return shared::transfer::download_ranged(
        path, size, shared::hash::sha256(content_for_sha), AccessUrl{server.url("/f"), {}},
        [&server] {
          return AccessUrl{server.url("/f"), {}};
        },
        options, logger, progress, head);
  }
};

} // namespace

TEST_CASE("ranged download: head then body, parts at their offsets, SHA-256 of the body",
          "[ranged]") {
  const std::string body = random_bytes((9u << 20) + 77, 1);
  FaultServer server;
  server.serve("/f", body);
  TempDir dir;
  Run run;
  run.options.part_size = 1u << 20;
  run.options.parallel = 4;
  const auto result = run.fetch(server, dir / "out.c4gh", body.size(), body, "HEAD-bytes");
  CHECK(result.bytes == body.size() + 10);
  CHECK(read_file(dir / "out.c4gh") == "HEAD-bytes" + body);
  CHECK_FALSE(exists(dir / "out.c4gh.part"));

  CHECK_THROWS_AS(run.fetch(server, dir / "bad", body.size(), body + "x"),
                  shared::error::IntegrityError);
  CHECK_FALSE(exists(dir / "bad"));
  CHECK_FALSE(exists(dir / "bad.part"));
}

// A part cut after half its bytes and sent again: the digest computed while it landed may hold
// bytes that were then written again, so it is only trusted when nothing it read was rewritten.
// Here the second answer differs in the first bytes only (within what the follower may have
// read before the cut): the file holds the second answer's bytes and must fail its checksum.
TEST_CASE("ranged download: bytes hashed early and then rewritten are hashed again", "[ranged]") {
  const std::string good = random_bytes(16u << 20, 2);
  std::string changed = good;
  changed[100] = static_cast<char>(changed[100] ^ 0x55);
  FaultServer server;
  TempDir dir;
  Run run;
  run.options.part_size = good.size(); // one part: its restart rewrites from byte 0
  run.options.parallel = 1;
  FaultReply cut;
  cut.body = good;
  cut.fault = FaultReply::Fault::short_body;

  SECTION("the rewritten bytes differ: a mismatch, never the early digest") {
    FaultReply wrong;
    wrong.body = changed;
    server.on("/f", {cut, wrong});
    CHECK_THROWS_AS(run.fetch(server, dir / "out", good.size(), good),
                    shared::error::IntegrityError);
    CHECK(server.request_count("/f") == 2);
    CHECK_FALSE(exists(dir / "out"));
    CHECK_FALSE(exists(dir / "out.part"));
  }
  SECTION("the same bytes again: the file is right") {
    FaultReply again;
    again.body = good;
    server.on("/f", {cut, again});
    const auto result = run.fetch(server, dir / "out", good.size(), good);
    CHECK(server.request_count("/f") == 2);
    CHECK(result.rehashed <= 1);
    CHECK(read_file(dir / "out") == good);
  }
}

TEST_CASE("ranged download: the last parallel x partSize bytes go in smaller parts", "[ranged]") {
  const std::uint64_t mib = 1u << 20;
  const std::string body = random_bytes(16 * mib + 5, 3);
  FaultServer server;
  server.serve("/f", body);
  TempDir dir;
  Run run;
  run.options.part_size = 4 * mib;
  run.options.parallel = 2;
  run.fetch(server, dir / "out", body.size(), body);
  CHECK(read_file(dir / "out") == body);
  std::set<std::string> ranges;
  for (const auto& request : server.requests()) {
    ranges.insert(request.headers.at("range"));
  }
  // 4 MiB parts while a whole one ends before the last 8 MiB (parallel x partSize); from there
  // parts of 2 MiB (partSize / parallel), the last one what is left.
  const auto range = [](std::uint64_t first, std::uint64_t last) {
    return "bytes=" + std::to_string(first) + "-" + std::to_string(last);
  };
  const std::set<std::string> expected = {
      range(0, 4 * mib - 1),         range(4 * mib, 8 * mib - 1),   range(8 * mib, 10 * mib - 1),
      range(10 * mib, 12 * mib - 1), range(12 * mib, 14 * mib - 1), range(14 * mib, 16 * mib - 1),
      range(16 * mib, 16 * mib + 4)};
  CHECK(ranges == expected);
}

TEST_CASE("ranged download: a Range request answered 200 fails the file, nothing is left",
          "[ranged]") {
  const std::string body = random_bytes(3u << 20, 4);
  FaultServer server;
  FaultReply whole;
  whole.body = body;
  whole.fault = FaultReply::Fault::gzip; // FaultServer then answers 200, ignoring the Range
  server.on("/f", {whole});
  TempDir dir;
  Run run;
  run.options.part_size = 1u << 20;
  run.options.parallel = 2;
  CHECK_THROWS_AS(run.fetch(server, dir / "out", body.size(), body), shared::http::ProtocolError);
  CHECK_FALSE(exists(dir / "out"));
  CHECK_FALSE(exists(dir / "out.part"));
}

TEST_CASE("ranged download: URLs answered 403 are replaced once each, without the token",
          "[ranged]") {
  const std::uint64_t mib = 1u << 20;
  const std::string body = random_bytes(8 * mib + 3, 5);
  FaultServer server;
  FaultReply refused;
  refused.status = 403;
  server.on("/old", {refused});
  server.serve("/new", body);
  TempDir dir;
  Run run;
  run.options.part_size = mib;
  run.options.parallel = 4;
  run.options.http.bearer_token = "secret";
  int refreshes = 0;
  const auto result = shared::transfer::download_ranged(
      dir / "out", body.size(), shared::hash::sha256(body), AccessUrl{server.url("/old"), {}},
      [&] {
        ++refreshes;
        return AccessUrl{server.url("/new"), {{"X-Signed", "yes"}}};
      },
      run.options, run.logger, run.progress);
  CHECK(read_file(dir / "out") == body);
  CHECK(refreshes == 1);
  CHECK(result.refreshed == 1);
  CHECK(result.part_attempts >= 1);
  for (const auto& request : server.requests()) {
    CHECK(request.headers.count("authorization") == 0);
    if (request.target.rfind("/new", 0) == 0) {
      CHECK(request.headers.at("x-signed") == "yes");
    }
  }
}
