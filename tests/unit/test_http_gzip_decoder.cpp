#include "shared/http/errors.hpp"
#include "shared/http/gzip_decoder.hpp"
#include "tests/support/random_bytes.hpp"

#include <Poco/DeflatingStream.h>
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using shared::http::BrokenBody;
using shared::http::GzipDecoder;

namespace {

std::string gzip(const std::string& text) {
  std::ostringstream out;
  Poco::DeflatingOutputStream deflate(out, Poco::DeflatingStreamBuf::STREAM_GZIP);
  deflate << text;
  deflate.close();
  return out.str();
}

// Text that compresses, but not to nothing: letters from a small alphabet.
std::string sample(std::size_t size) {
  std::string text = tests::support::random_bytes(size, 3);
  for (char& c : text) {
    c = static_cast<char>('a' + static_cast<unsigned char>(c) % 8);
  }
  return text;
}

// Feeds `pieces` of a gzip stream into a fresh decoder; returns what it decoded.
std::string decode(const std::vector<std::string>& pieces, bool finish = true) {
  std::string out;
  GzipDecoder decoder;
  for (const std::string& piece : pieces) {
    decoder.feed(piece.data(), piece.size(),
                 [&out](const char* data, std::size_t size) { out.append(data, size); });
  }
  if (finish) {
    decoder.finish();
  }
  return out;
}

} // namespace

TEST_CASE("http gzip decoder: a stream split at every byte boundary decodes the same", "[http]") {
  const std::string text = sample(8000);
  const std::string compressed = gzip(text);
  REQUIRE(compressed.size() < text.size());
  for (std::size_t cut = 0; cut <= compressed.size(); ++cut) {
    INFO("cut at " << cut);
    REQUIRE(decode({compressed.substr(0, cut), compressed.substr(cut)}) == text);
  }
  std::vector<std::string> bytes;
  for (const char c : compressed) {
    bytes.emplace_back(1, c);
  }
  CHECK(decode(bytes) == text);
}

TEST_CASE("http gzip decoder: a large body comes out in pieces of at most 64 KiB", "[http]") {
  const std::string text = sample(1u << 20);
  const std::string compressed = gzip(text);
  std::string out;
  std::size_t largest = 0;
  GzipDecoder decoder;
  decoder.feed(compressed.data(), compressed.size(), [&](const char* data, std::size_t size) {
    out.append(data, size);
    largest = std::max(largest, size);
  });
  decoder.finish();
  CHECK(out == text);
  CHECK(largest == 64u * 1024);
}

TEST_CASE("http gzip decoder: a stream cut anywhere before its end is truncated", "[http]") {
  const std::string compressed = gzip(sample(3000));
  for (std::size_t cut = 0; cut < compressed.size(); ++cut) {
    INFO("cut at " << cut);
    try {
      decode({compressed.substr(0, cut)});
      FAIL("a truncated stream was accepted");
    } catch (const BrokenBody& e) {
      CHECK(std::string(e.what()) == "broken gzip stream (truncated)");
    }
  }
}

TEST_CASE("http gzip decoder: bytes after the end of the stream are ignored", "[http]") {
  const std::string text = sample(3000);
  CHECK(decode({gzip(text) + "trailing garbage"}) == text);
  CHECK(decode({gzip(text), "trailing", " garbage"}) == text);
}

TEST_CASE("http gzip decoder: a wrong header, checksum or length is a broken stream", "[http]") {
  const std::string text = sample(3000);
  std::string compressed = gzip(text);
  const auto [at, message] = GENERATE(table<int, std::string>({
      {0, "incorrect header check"},  // the magic number
      {-8, "incorrect data check"},   // the CRC-32
      {-4, "incorrect length check"}, // ISIZE: the length modulo 2^32
  }));
  compressed[at >= 0 ? at : compressed.size() + at] ^= 0x01;
  try {
    decode({compressed});
    FAIL("a broken stream was accepted");
  } catch (const BrokenBody& e) {
    CHECK(std::string(e.what()) == "broken gzip stream (" + message + ")");
  }
}
