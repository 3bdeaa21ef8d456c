// URL helpers: joining relative item paths to a root, and redacting credentials for logs.
#pragma once

#include <string>
#include <string_view>

namespace shared::http {

/// `url` with credentials hidden: the password of user:password@, a user-only token@, and the
/// values of query parameters that carry secrets (sig, signature, token, X-Amz-Signature,
/// X-Amz-Credential, X-Goog-Signature, code, key, password, secret…) become "***".
std::string redact(std::string_view url);

/// Percent-encodes one path segment (RFC 3986 §3.3: everything but unreserved characters and
/// sub-delims that are safe in paths).
std::string encode_segment(std::string_view segment);

/// Decodes %XX escapes; invalid escapes are kept as they are.
std::string decode_percent(std::string_view text);

/// `root` (ending in '/' or not) + the '/'-separated relative `path`, each segment encoded.
std::string join(std::string_view root, std::string_view path);

} // namespace shared::http
