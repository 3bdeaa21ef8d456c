// A GA4GH Data Repository Service (DRS 1.2) client: what an object is and where its bytes are,
// as batch downloads ask it, plus GHGA's Crypt4GH envelope endpoint.
#pragma once

#include "shared/hash/sha256.hpp"
#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace shared::source {

/// A DRS object that can be fetched now (DRS 1.2 DrsObject: id, name, size, checksums,
/// access_methods[].access_url).
struct DrsObject {
  std::string id;
  std::string name;                   ///< may be empty
  std::uint64_t size = 0;             ///< bytes
  std::optional<hash::Digest> sha256; ///< from checksums[] type "sha-256"
  std::string access_url;             ///< where the bytes are (usually presigned)
  http::Headers access_headers;       ///< to send with every request to access_url
};

/// What GET /objects/{id} said.
struct DrsAnswer {
  enum class State {
    ready,       ///< 200: `object` is set
    staging,     ///< 202 with Retry-After: ask again after `retry_after` seconds
    unavailable, ///< 404, or 403 (after one retry): `reason` says which
  };
  State state = State::unavailable;
  std::optional<DrsObject> object;
  double retry_after = 0; ///< seconds, for staging
  std::string reason;     ///< for unavailable, e.g. "404 Not Found"
};

/// Talks to one DRS service. Not thread-safe (one http::Client). Credentials (the token of
/// ClientOptions) go to the service only, never to access URLs.
class DrsClient {
public:
  /// `base`: the service's URL up to and excluding "/objects" (e.g.
  /// https://drs.example/ga4gh/drs/v1); a trailing "/" is ignored.
  DrsClient(std::string base, const http::ClientOptions& options, log::Logger& logger);

  /// GET <base>/objects/{id}. Throws http::ProtocolError for a 200 that is not a usable DRS
  /// object (no size, no access URL) or a 202 without Retry-After (that is an
  /// error for the file), http::HttpStatusError for a status other than 404/403 that the HTTP
  /// layer's retries did not cure, http::NetworkError when the service could not be reached.
  DrsAnswer object(const std::string& id);

  /// GET <base>/objects/{id}/envelopes (GHGA): the Crypt4GH header, decoded from base64.
  /// Throws http::ProtocolError when the body is not base64, http errors otherwise.
  std::string envelope(const std::string& id);

  /// "<base>/objects/<id>" (the id percent-encoded as one segment).
  std::string object_url(const std::string& id) const;

private:
  std::string m_base;
  http::Client m_client;
};

/// Parses a DRS object's JSON (DRS 1.2 DrsObject). Throws http::ProtocolError naming what is
/// missing or wrong.
DrsObject parse_drs_object(const std::string& json);

} // namespace shared::source
