// Azure Blob Storage as an ObjectStore, on the REST API version 2021-08-06:
//   - uploads as block blobs: Put Block of k_block_size bytes each, straight from the writer's
//     buffer (one block in memory, nothing on disk), then Put Block List ("Put Block",
//     "Put Block List" in the Azure Storage REST API reference);
//   - requests authorized with Shared Key ("Authorize with Shared Key": HMAC-SHA256 of the
//     string-to-sign with the base64-decoded account key) or with a SAS token given by the
//     deployment;
//   - read URLs as service SAS with sp=r and an expiry ("Create a service SAS", version
//     2020-12-06 and later string-to-sign), or the given SAS token.
//
// Store specification (the --store input):
//   azblob://<account>/<container>[/<prefix>][?endpoint=<blob endpoint URL>]
// <prefix> is put before every object name ("<prefix>/<name>"); the endpoint defaults to
// https://<account>.blob.core.windows.net and for Azurite is
// http://127.0.0.1:<port>/<account> (path-style). Credentials never go on the command line:
// AZURE_STORAGE_KEY (the account key, base64) or AZURE_STORAGE_SAS (a SAS token with
// read/write/create/delete on the container, with or without its leading '?').
#pragma once

#include "shared/store/object_store.hpp"

#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace shared::store::azure {

/// The REST API version sent as x-ms-version and signed into SAS tokens.
inline constexpr const char* k_api_version = "2021-08-06";

/// Bytes per Put Block: every block but the last is this long.
inline constexpr std::size_t k_block_size = 8u << 20;

/// Where the blobs go, from an azblob:// specification.
struct BlobLocation {
  std::string account;
  std::string container;
  std::string prefix; ///< "" or "a/b" (no slashes at either end)
  std::string
      endpoint; ///< blob endpoint without trailing '/', e.g. https://acc.blob.core.windows.net
};

/// Parses `spec` (the form above). Throws error::UsageError naming --store: a missing account
/// or container, a container name that is not 3–63 lowercase letters, digits and '-', a bad
/// endpoint URL, an unknown query parameter.
BlobLocation parse_azblob_url(const std::string& spec);

/// One request as Shared Key signs it.
struct SignedRequest {
  std::string method; ///< "PUT", "GET" …
  /// The URL path as sent, percent-encoded, e.g. "/container/blob" or, path-style,
  /// "/devstoreaccount1/container/blob".
  std::string path;
  /// Query parameters, decoded (signed as "\nname:value", names lowercased and sorted).
  std::map<std::string, std::string> query;
  /// Standard headers by name as the string-to-sign lists them (Content-Length,
  /// Content-Type, Range …) and every x-ms-* header; names case-insensitive. A
  /// Content-Length of 0 is signed as "" (versions from 2015-02-21 on).
  std::map<std::string, std::string> headers;
};

/// The Shared Key string-to-sign for the Blob service ("Authorize with Shared Key", Blob,
/// Queue and File services): VERB, the eleven standard headers, the canonicalized x-ms-*
/// headers ("name:value\n", lowercased, sorted) and the canonicalized resource
/// "/<account><path>" followed by the query parameters.
std::string shared_key_string_to_sign(const std::string& account, const SignedRequest& request);

/// Base64 of HMAC-SHA256(base64-decoded `key`, `text`). Throws error::UsageError when `key` is
/// not base64.
std::string hmac_sha256_base64(const std::string& key, const std::string& text);

/// The Authorization header value "SharedKey <account>:<signature>".
std::string shared_key_authorization(const std::string& account, const std::string& key,
                                     const SignedRequest& request);

/// A service SAS for one blob.
struct BlobSas {
  std::string permissions = "r"; ///< sp
  std::time_t expiry = 0;        ///< se, seconds since 1970 UTC
  std::string version = k_api_version;
};

/// The service SAS string-to-sign (version 2020-12-06 and later): sp, st, se, the
/// canonicalized resource "/blob/<account>/<container>/<blob>", si, sip, spr, sv, sr ("b"),
/// snapshot time, ses, rscc, rscd, rsce, rscl, rsct, one a line (empty ones stay empty).
std::string service_sas_string_to_sign(const std::string& account, const std::string& container,
                                       const std::string& blob, const BlobSas& sas);

/// The SAS query string (without '?'): sv, sr=b, sp, se (ISO 8601 UTC) and sig, encoded.
std::string service_sas_query(const std::string& account, const std::string& key,
                              const std::string& container, const std::string& blob,
                              const BlobSas& sas);

/// "YYYY-MM-DDTHH:MM:SSZ" for `time` (seconds since 1970 UTC).
std::string iso8601(std::time_t time);

/// Credentials: exactly one of key and sas is set.
struct Credentials {
  std::string key; ///< account key (base64)
  std::string sas; ///< SAS token without the leading '?'
};

/// Blobs in one container. Each create() gives a writer with its own HTTP client; other calls
/// use one client behind a mutex.
class AzureBlobStore : public ObjectStore {
public:
  /// Registers the credentials with `logger` as secrets. Throws error::UsageError when
  /// neither or a malformed key is given.
  AzureBlobStore(BlobLocation location, Credentials credentials, http::ClientOptions http,
                 log::Logger& logger);
  ~AzureBlobStore() override;

  /// Creates the container on first use when it is missing (a 403 there, as with a SAS
  /// without container rights, is ignored), then streams blocks of k_block_size.
  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  /// With a key: the blob URL with a service SAS (sp=r, se=now+valid_for). With a SAS token:
  /// the blob URL with that token (its own expiry applies).
  std::string read_url(const std::string& name, std::chrono::seconds valid_for) override;
  /// Delete Blob; false on 404.
  bool remove(const std::string& name) override;
  /// Get Blob Properties (HEAD); false on 404.
  bool exists(const std::string& name) override;
  std::optional<std::string> local_path(const std::string&) const override { return {}; }
  std::string describe() const override;

  /// The blob's name in the container for object `name` (the prefix joined).
  std::string blob_name(const std::string& name) const;
  /// The blob's URL without query.
  std::string blob_url(const std::string& name) const;

  /// Sends one signed request (used by the writers). `path_and_query`: after the endpoint,
  /// e.g. "/container/blob?comp=block&blockid=…". Returns the response; throws as
  /// http::Client (HttpStatusError for a status it does not retry).
  http::Response call(http::Client& client, const std::string& method, const std::string& resource,
                      const std::map<std::string, std::string>& query, std::string_view body,
                      std::map<std::string, std::string> headers, http::BodySink* sink = nullptr);

  const http::ClientOptions& http_options() const { return m_http; }
  log::Logger& logger() const { return m_logger; }

private:
  void ensure_container();

  BlobLocation m_location;
  Credentials m_credentials;
  http::ClientOptions m_http;
  log::Logger& m_logger;
  std::string m_endpoint_path; ///< the endpoint URL's path ("" or "/devstoreaccount1")
  std::mutex m_mutex;
  std::unique_ptr<http::Client> m_client; ///< for remove/exists/container, under m_mutex
  bool m_container_checked = false;
};

} // namespace shared::store::azure
