// Azure Blob Storage request signing (Shared Key) and read SAS URLs, checked against literal
// strings-to-sign written from the "Authorize with Shared Key" and "Create a service SAS"
// documents, and signatures computed independently by `openssl dgst -sha256 -mac HMAC`.
#include "shared/error/error.hpp"
#include "shared/log/logger.hpp"
#include "shared/store/azure_blob.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace shared::store::azure;
using namespace tests::support;

namespace {

const std::string k_dev_key =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// HMAC-SHA256 of `text` with the base64 `key`, by OpenSSL's command line, base64.
std::string openssl_signature(const std::string& key, const std::string& text) {
  TempDir folder;
  write_file(folder / "text", text);
  write_file(folder / "key.b64", key + "\n");
  const auto run = run_process({"/bin/sh", "-c",
                                "cd '" + folder.path() +
                                    "' && hex=$(base64 -d key.b64 | od -An -v -tx1 | tr -d ' \\n')"
                                    " && openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex "
                                    "-binary text | base64 -w0"});
  REQUIRE(run.exit_code == 0);
  return run.out;
}

} // namespace

TEST_CASE("Shared Key string-to-sign of a Put Block on Azurite's path-style URL", "[store]") {
  SignedRequest request;
  request.method = "PUT";
  request.path = "/devstoreaccount1/archives/jobs/abc.zip";
  request.query = {{"comp", "block"}, {"blockid", "YmxrLTAwMDAwMDAwMDAw"}};
  request.headers = {{"x-ms-version", "2021-08-06"},
                     {"x-ms-date", "Tue, 01 Dec 2026 06:30:00 GMT"},
                     {"Content-Length", "8388608"}};
  const std::string expected = "PUT\n"
                               "\n"        // Content-Encoding
                               "\n"        // Content-Language
                               "8388608\n" // Content-Length
                               "\n"        // Content-MD5
                               "\n"        // Content-Type
                               "\n"        // Date
                               "\n"        // If-Modified-Since
                               "\n"        // If-Match
                               "\n"        // If-None-Match
                               "\n"        // If-Unmodified-Since
                               "\n"        // Range
                               "x-ms-date:Tue, 01 Dec 2026 06:30:00 GMT\n"
                               "x-ms-version:2021-08-06\n"
                               "/devstoreaccount1/devstoreaccount1/archives/jobs/abc.zip\n"
                               "blockid:YmxrLTAwMDAwMDAwMDAw\n"
                               "comp:block";
  CHECK(shared_key_string_to_sign("devstoreaccount1", request) == expected);
  CHECK(shared_key_authorization("devstoreaccount1", k_dev_key, request) ==
        "SharedKey devstoreaccount1:" + openssl_signature(k_dev_key, expected));
}

TEST_CASE("Shared Key signs a zero Content-Length as empty and x-ms headers lowercased, sorted",
          "[store]") {
  SignedRequest request;
  request.method = "DELETE";
  request.path = "/c1/b";
  request.headers = {{"Content-Length", "0"},
                     {"X-MS-Version", "2021-08-06"},
                     {"x-ms-date", "d"},
                     {"Content-Type", "application/xml"}};
  CHECK(shared_key_string_to_sign("acct", request) ==
        "DELETE\n\n\n\n\napplication/xml\n\n\n\n\n\n\nx-ms-date:d\nx-ms-version:2021-08-06\n/acct/"
        "c1/b");
}

TEST_CASE("a read SAS: its string-to-sign, signature and query", "[store]") {
  BlobSas sas;
  sas.expiry = 1796108400; // 2026-12-01T07:00:00Z
  const std::string expected = "r\n\n2026-12-01T07:00:00Z\n/blob/devstoreaccount1/archives/x.zip\n"
                               "\n\n\n2021-08-06\nb\n\n\n\n\n\n\n";
  CHECK(iso8601(sas.expiry) == "2026-12-01T07:00:00Z");
  CHECK(service_sas_string_to_sign("devstoreaccount1", "archives", "x.zip", sas) == expected);
  const std::string signature = openssl_signature(k_dev_key, expected);
  CHECK(hmac_sha256_base64(k_dev_key, expected) == signature);
  std::string encoded;
  for (const char c : signature) {
    encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
  }
  CHECK(service_sas_query("devstoreaccount1", k_dev_key, "archives", "x.zip", sas) ==
        "sv=2021-08-06&sr=b&sp=r&se=2026-12-01T07%3A00%3A00Z&sig=" + encoded);
}

TEST_CASE("azblob:// store URLs", "[store]") {
  const auto location =
      parse_azblob_url("azblob://devstoreaccount1/archives/jobs/v1?endpoint=http%3A%2F%2F127.0.0.1%"
                       "3A10000%2Fdevstoreaccount1");
  CHECK(location.account == "devstoreaccount1");
  CHECK(location.container == "archives");
  CHECK(location.prefix == "jobs/v1");
  CHECK(location.endpoint == "http://127.0.0.1:10000/devstoreaccount1");
  CHECK(parse_azblob_url("azblob://acct/c12").endpoint == "https://acct.blob.core.windows.net");
  CHECK(parse_azblob_url("azblob://acct/c12/").prefix.empty());
  for (const char* bad : {"azblob://", "azblob://acct", "azblob://acct/ab", "azblob://Acct/abc",
                          "azblob://acct/ABC", "azblob://acct/abc?x=1", "azblob://acct/abc/../x",
                          "azblob://acct/abc?endpoint=ftp://h/", "http://acct/abc"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_azblob_url(bad), shared::error::UsageError);
  }
}

TEST_CASE("an Azure store needs exactly one credential and a base64 key", "[store]") {
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger(shared::log::Dialect::plain, out, err);
  const auto location = parse_azblob_url("azblob://acct/abc");
  CHECK_THROWS_AS(AzureBlobStore(location, {}, {}, logger), shared::error::UsageError);
  CHECK_THROWS_AS(AzureBlobStore(location, {"not base64 !", ""}, {}, logger),
                  shared::error::UsageError);
  AzureBlobStore with_sas(location, {"", "?sv=2021-08-06&sig=secret"}, {}, logger);
  CHECK(with_sas.read_url("a.zip", std::chrono::seconds(60)) ==
        "https://acct.blob.core.windows.net/abc/a.zip?sv=2021-08-06&sig=secret");
  logger.info("token sv=2021-08-06&sig=secret");
  CHECK(out.str().find("sig=secret") == std::string::npos);
  AzureBlobStore with_key(location, {k_dev_key, ""}, {}, logger);
  const std::string url = with_key.read_url("a.zip", std::chrono::seconds(60));
  CHECK(url.rfind("https://acct.blob.core.windows.net/abc/a.zip?sv=2021-08-06&sr=b&sp=r&se=", 0) ==
        0);
}
