#include "shared/http/url.hpp"

#include <catch2/catch.hpp>

using namespace shared::http;

TEST_CASE("credentials are redacted from URLs", "[http]") {
  CHECK(redact("https://user:hunter2@example.com/a") == "https://user:***@example.com/a");
  CHECK(redact("https://ghp_TOKEN@example.com/a") == "https://***@example.com/a");
  CHECK(redact("https://s3.example.com/b/k?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1&x=1") ==
        "https://s3.example.com/b/k?X-Amz-Signature=***&X-Amz-Credential=***&x=1");
  CHECK(redact("https://acct.blob.core.windows.net/c/b?sv=2021&sig=XYZ&se=2026") ==
        "https://acct.blob.core.windows.net/c/b?sv=2021&sig=***&se=***");
  CHECK(redact("http://h/p?token=t#frag") == "http://h/p?token=***#frag");
  CHECK(redact("http://h/p?a=1&b") == "http://h/p?a=1&b");
  CHECK(redact("/plain/path") == "/plain/path");
}

TEST_CASE("paths are joined to a root with each segment percent-encoded", "[http]") {
  CHECK(join("http://h/root/", "a/b c/d%e.txt") == "http://h/root/a/b%20c/d%25e.txt");
  CHECK(join("http://h/root", "x") == "http://h/root/x");
  CHECK(join("http://h/", "q?#/\xc3\xa9") == "http://h/q%3F%23/%C3%A9");
  CHECK(encode_segment("a,b;c=d") == "a,b;c=d");
  CHECK(join("http://h/", "%a/b%") == "http://h/%25a/b%25");
  CHECK(join("http://h/", "") == "http://h/");
}

TEST_CASE("a segment keeps exactly RFC 3986's pchar bytes, every other byte escaped", "[http]") {
  const std::string pchar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "-._~!$&'()*+,;=:@";
  std::string all;
  std::string expected;
  for (int c = 0; c < 256; ++c) {
    all.push_back(static_cast<char>(c));
    if (pchar.find(static_cast<char>(c)) != std::string::npos) {
      expected.push_back(static_cast<char>(c));
    } else {
      static const char* const digits = "0123456789ABCDEF";
      expected += {'%', digits[c >> 4], digits[c & 15]};
    }
  }
  CHECK(encode_segment(all) == expected);
}

TEST_CASE("percent escapes decode, broken ones stay", "[http]") {
  CHECK(decode_percent("a%20b%2Fc") == "a b/c");
  CHECK(decode_percent("100%") == "100%");
  CHECK(decode_percent("%zz%4") == "%zz%4");
  CHECK(decode_percent(encode_segment("x y%\xff")) == "x y%\xff");
}
