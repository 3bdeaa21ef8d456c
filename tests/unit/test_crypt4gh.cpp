// Crypt4GH public key files and header lengths (GA4GH Crypt4GH 1.0, §3.2 and §3.3).
#include "shared/crypt4gh/crypt4gh.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

using namespace shared::crypt4gh;

namespace {

// base64 of the bytes 0, 1, …, 31.
const std::string k_key64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

PublicKey counting_key() {
  PublicKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<unsigned char>(i);
  }
  return key;
}

std::string le32(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
  return bytes;
}

// A header packet of `length` bytes (method 0), its payload filled with `fill`.
std::string packet(std::uint32_t length, char fill = 'p') {
  return le32(length) + le32(0) + std::string(length - 8, fill);
}

std::string header(std::uint32_t count, const std::string& packets) {
  return std::string("crypt4gh") + le32(1) + le32(count) + packets;
}

} // namespace

TEST_CASE("a Crypt4GH public key file is parsed into its 32 bytes", "[crypt4gh]") {
  const PublicKey expected = counting_key();
  CHECK(parse_public_key("-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + k_key64 +
                         "\n-----END CRYPT4GH PUBLIC KEY-----\n") == expected);
  // CRLF, blank lines, the base64 split over lines, surrounding whitespace
  CHECK(parse_public_key("\r\n  -----BEGIN CRYPT4GH PUBLIC KEY-----\r\n\r\n" +
                         k_key64.substr(0, 20) + "\r\n" + k_key64.substr(20) +
                         "\r\n-----END CRYPT4GH PUBLIC KEY-----  \r\n\n") == expected);
  // the bare base64 (as a work package carries it)
  CHECK(parse_public_key(k_key64) == expected);
  CHECK(parse_public_key(" " + k_key64 + "\n") == expected);
  CHECK(to_base64(expected) == k_key64);
  CHECK(parse_public_key(to_base64(PublicKey{})) == PublicKey{});
}

TEST_CASE("what is not a Crypt4GH public key says why", "[crypt4gh]") {
  const auto wrapped = [](const std::string& body) {
    return "-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + body + "\n-----END CRYPT4GH PUBLIC KEY-----\n";
  };
  CHECK_THROWS_WITH(parse_public_key(""), Catch::Contains("no key"));
  CHECK_THROWS_WITH(parse_public_key(wrapped("")), Catch::Contains("no key"));
  CHECK_THROWS_WITH(parse_public_key(wrapped("AAAA")), Catch::Contains("3 bytes"));
  CHECK_THROWS_WITH(parse_public_key(wrapped("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")),
                    Catch::Contains("31 bytes"));
  CHECK_THROWS_WITH(parse_public_key(wrapped(k_key64 + "AAAA")), Catch::Contains("not base64"));
  CHECK_THROWS_WITH(parse_public_key(wrapped(k_key64.substr(0, 43))),
                    Catch::Contains("not base64"));
  CHECK_THROWS_WITH(parse_public_key(wrapped("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
                    Catch::Contains("36 bytes"));
  CHECK_THROWS_WITH(parse_public_key(wrapped("not*base64!")), Catch::Contains("not base64"));
  CHECK_THROWS_WITH(parse_public_key("-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + k_key64 + "\n"),
                    Catch::Contains("-----END CRYPT4GH PUBLIC KEY-----"));
  CHECK_THROWS_WITH(parse_public_key(wrapped(k_key64) + "trailing"), Catch::Contains("after the"));
  CHECK_THROWS_WITH(
      parse_public_key("-----BEGIN PUBLIC KEY-----\n" + k_key64 + "\n-----END PUBLIC KEY-----\n"),
      Catch::Contains("not a Crypt4GH public key"));
  CHECK_THROWS_WITH(parse_public_key("-----BEGIN CRYPT4GH PRIVATE KEY-----\nYzRnaC12MQ==\n"
                                     "-----END CRYPT4GH PRIVATE KEY-----\n"),
                    Catch::Contains("private key"));
  CHECK_THROWS_AS(parse_public_key("ssh-ed25519 AAAA user@host"), std::invalid_argument);
}

TEST_CASE("a key file is read from disk, errors name the path", "[crypt4gh]") {
  tests::support::TempDir folder;
  const std::string path = folder / "me.pub";
  tests::support::write_file(path, "-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + k_key64 +
                                       "\n-----END CRYPT4GH PUBLIC KEY-----\n");
  CHECK(read_public_key_file(path) == counting_key());
  CHECK_THROWS_WITH(read_public_key_file(folder / "missing.pub"),
                    Catch::Contains("missing.pub: cannot be read"));
  tests::support::write_file(folder / "bad.pub", "hello\n");
  CHECK_THROWS_WITH(read_public_key_file(folder / "bad.pub"),
                    Catch::StartsWith(folder / "bad.pub"));
  tests::support::write_file(folder / "big.pub", std::string(70000, 'A'));
  CHECK_THROWS_WITH(read_public_key_file(folder / "big.pub"), Catch::Contains("64 KiB"));
  CHECK_THROWS_AS(read_public_key_file(folder.path()), std::invalid_argument); // a folder
}

TEST_CASE("the header length counts magic, version, count and each packet", "[crypt4gh]") {
  const std::string one = header(1, packet(108));
  REQUIRE(one.size() == 124);
  CHECK(header_length(one) == 124u);
  CHECK(header_length(one + "the encrypted body") == 124u);
  const std::string two = header(2, packet(108) + packet(200, 'q'));
  CHECK(header_length(two) == two.size());
  // a packet of another method may be short (8 bytes: length and method)
  CHECK(header_length(header(1, le32(8) + le32(7))) == 24u);
}

TEST_CASE("what is not a Crypt4GH header is no length, with the reason", "[crypt4gh]") {
  std::string problem;
  CHECK_FALSE(header_length("", &problem));
  CHECK(problem.find("crypt4gh") != std::string::npos);
  CHECK_FALSE(header_length("crypt4gx" + le32(1) + le32(1) + packet(108), &problem));
  CHECK_FALSE(header_length("crypt4gh" + le32(1), &problem));
  CHECK(problem.find("ends inside") != std::string::npos);
  CHECK_FALSE(header_length("crypt4gh" + le32(2) + le32(1) + packet(108), &problem));
  CHECK(problem.find("version 2") != std::string::npos);
  CHECK_FALSE(header_length(header(0, ""), &problem));
  CHECK(problem.find("0 header packets") != std::string::npos);
  CHECK_FALSE(header_length(header(2, packet(108)), &problem)); // the second packet is missing
  CHECK(problem.find("packet 2") != std::string::npos);
  const std::string full = header(1, packet(108));
  CHECK_FALSE(header_length(full.substr(0, full.size() - 1), &problem)); // cut in the packet
  CHECK(problem.find("ends inside header packet 1") != std::string::npos);
  CHECK_FALSE(header_length(header(1, le32(40) + le32(0) + std::string(32, 'x')), &problem));
  CHECK(problem.find("too short") != std::string::npos); // method 0 needs 68 bytes at least
  CHECK_FALSE(header_length(header(1, le32(4) + le32(0)), &problem));
  CHECK_FALSE(header_length(header(1, le32(0xffffffffu) + le32(0) + "x"), &problem));
  CHECK(problem.find("ends inside") != std::string::npos);
}
