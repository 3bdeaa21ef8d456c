#include "shared/http/chunked_decoder.hpp"
#include "shared/http/errors.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using shared::http::BrokenBody;
using shared::http::ChunkedDecoder;

namespace {

// What a decoder made of `pieces` of a chunked body: the data, and whether it is complete.
struct Decoded {
  std::string data;
  bool complete = false;
};

Decoded decode(const std::vector<std::string>& pieces) {
  Decoded decoded;
  ChunkedDecoder decoder;
  for (const std::string& piece : pieces) {
    decoder.feed(piece.data(), piece.size(),
                 [&](const char* data, std::size_t size) { decoded.data.append(data, size); });
  }
  decoded.complete = decoder.complete();
  return decoded;
}

// "hello, chunked world" in three chunks, with an extension, upper- and lower-case hex, a
// bare LF and a trailer field.
const std::string k_body = "5\r\nhello\r\n"
                           "2;name=value\r\n, \r\n"
                           "D \r\nchunked world\n"
                           "0\r\n"
                           "Expires: never\r\n"
                           "\r\n";
const std::string k_data = "hello, chunked world";

// The message BrokenBody gives for a body that starts with `body`.
std::string error_for(const std::string& body) {
  try {
    decode({body});
  } catch (const BrokenBody& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("http chunked decoder: a body split at every byte boundary decodes the same", "[http]") {
  for (std::size_t cut = 0; cut <= k_body.size(); ++cut) {
    INFO("cut at " << cut);
    const Decoded decoded = decode({k_body.substr(0, cut), k_body.substr(cut)});
    CHECK(decoded.data == k_data);
    CHECK(decoded.complete);
  }
  std::vector<std::string> bytes;
  for (const char c : k_body) {
    bytes.emplace_back(1, c);
  }
  CHECK(decode(bytes).data == k_data);
}

TEST_CASE("http chunked decoder: a body cut anywhere before its final line is not complete",
          "[http]") {
  for (std::size_t cut = 0; cut < k_body.size(); ++cut) {
    INFO("cut at " << cut);
    const Decoded decoded = decode({k_body.substr(0, cut)});
    CHECK_FALSE(decoded.complete);
    CHECK(k_data.compare(0, decoded.data.size(), decoded.data) == 0);
  }
}

TEST_CASE("http chunked decoder: bytes after the final line are ignored", "[http]") {
  const Decoded decoded = decode({k_body + "5\r\nextra\r\n0\r\n\r\n"});
  CHECK(decoded.data == k_data);
  CHECK(decoded.complete);
}

TEST_CASE("http chunked decoder: wrong sizes and framing are a broken body", "[http]") {
  for (const std::string size : {"", "zz", "-1", "+1", "0x5", " 5", "5 x", "1ffffffffffffffff"}) {
    INFO("size line \"" << size << "\"");
    CHECK(error_for(size + "\r\nhello\r\n0\r\n\r\n") == "malformed chunk size \"" + size + "\"");
  }
  // A chunk longer than its size: what follows its size's worth of bytes is not CRLF.
  CHECK(error_for("3\r\nhello\r\n0\r\n\r\n") == "malformed chunked body (no CRLF after a chunk)");
  // A chunk shorter than its size takes the framing after it as data, and never completes.
  const Decoded short_chunk = decode({"20\r\nhello\r\n0\r\n\r\n"});
  CHECK_FALSE(short_chunk.complete);
  CHECK(error_for(std::string(9000, '1')) == "chunk header line too long");
}
