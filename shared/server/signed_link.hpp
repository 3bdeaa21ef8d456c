// Signed, expiring links: a link carries `expires=<unix seconds>` and
// `signature=<hex HMAC-SHA256(secret, path + "\n" + expires)>` (RFC 2104 HMAC, FIPS 180-4
// SHA-256, via OpenSSL), where `path` is the link's path exactly as sent, still
// percent-encoded, without the query. Other query parameters are not signed.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace shared::server {

/// The lowercase hex HMAC-SHA256 of `path` + "\n" + `expires` under `secret`.
std::string link_signature(const std::string& secret, const std::string& path,
                           std::int64_t expires);

/// `path` + "?expires=<expires>&signature=<…>".
std::string sign_link(const std::string& secret, const std::string& path, std::int64_t expires);

/// What check_link() found.
enum class LinkCheck {
  valid,
  unsigned_link, ///< no expires or no signature parameter
  malformed,     ///< expires is not a number, signature not 64 hex digits
  expired,       ///< expires is before `now`
  bad_signature, ///< the signature does not match (tampered path or expiry, wrong secret)
};

/// Checks the `expires` and `signature` parameters of `query` for `path` at time `now`
/// (unix seconds). The signature is compared in constant time.
LinkCheck check_link(const std::string& secret, const std::string& path,
                     const std::map<std::string, std::string>& query, std::int64_t now);

} // namespace shared::server
