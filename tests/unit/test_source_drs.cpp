// DRS 1.2 DrsObject parsing (GA4GH DRS 1.2: id, name, size, checksums, access_methods).
#include "shared/error/error.hpp"
#include "shared/http/errors.hpp"
#include "shared/source/drs.hpp"

#include <catch2/catch.hpp>

using shared::source::parse_drs_object;

TEST_CASE("a DRS object gives its size, SHA-256 and access URL with headers", "[drs]") {
  const std::string hex(64, 'a');
  const auto object = parse_drs_object(R"({"id": "GHGAF1", "name": "reads.fastq.gz",
      "self_uri": "drs://drs.example/GHGAF1", "size": 1234, "created_time": "2024-01-01T00:00:00Z",
      "checksums": [{"type": "md5", "checksum": "x"}, {"type": "sha-256", "checksum": ")" +
                                       hex + R"("}],
      "access_methods": [{"type": "s3", "access_id": "a1"},
                         {"type": "https", "access_url": {"url": "https://s3.example/f?sig=1",
                          "headers": ["Authorization: Bearer t", "X-Extra:  v "]}}]})");
  CHECK(object.id == "GHGAF1");
  CHECK(object.name == "reads.fastq.gz");
  CHECK(object.size == 1234u);
  REQUIRE(object.sha256);
  CHECK(shared::hash::to_hex(*object.sha256, false) == hex);
  CHECK(object.access_url == "https://s3.example/f?sig=1");
  CHECK(object.access_headers ==
        shared::http::Headers{{"Authorization", "Bearer t"}, {"X-Extra", "v"}});
}

TEST_CASE("what is not a usable DRS object is a protocol error naming what is missing", "[drs]") {
  using shared::http::ProtocolError;
  CHECK_THROWS_AS(parse_drs_object("not json"), ProtocolError);
  CHECK_THROWS_AS(parse_drs_object(R"({"id": "x", "size": 1})"), ProtocolError);
  CHECK_THROWS_WITH(parse_drs_object(R"({"id": "x", "access_methods": []})"),
                    Catch::Contains("has no size"));
  CHECK_THROWS_WITH(parse_drs_object(R"({"id": "x", "size": 1})"),
                    Catch::Contains("has no access_url"));
  CHECK_THROWS_WITH(parse_drs_object(R"({"id": "x", "size": 1, "checksums": [{"type": "sha-256",
          "checksum": "zz"}], "access_methods": [{"access_url": {"url": "http://h/f"}}]})"),
                    Catch::Contains("not 64 hex digits"));
}
