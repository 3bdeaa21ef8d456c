#include "shared/http/url.hpp"

#include "shared/format/hex.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace shared::http {
namespace {

// Bytes that stand for themselves in a path segment (RFC 3986 §3.3 pchar: unreserved,
// sub-delims, ':' and '@'); every other byte is percent-encoded. Not Poco::URI::encode: it
// also escapes the sub-delims !$'()*, which changes what a server sees in a path.
constexpr std::array<bool, 256> plain_in_segment_table() {
  std::array<bool, 256> plain{};
  for (int c = 0; c < 256; ++c) {
    plain[c] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  }
  for (const char c : std::string_view("-._~!$&'()*+,;=:@")) {
    plain[static_cast<unsigned char>(c)] = true;
  }
  return plain;
}

constexpr std::array<bool, 256> k_plain_in_segment = plain_in_segment_table();

// Appends `segment` to `out`, percent-encoded as encode_segment() does.
void append_encoded_segment(std::string& out, std::string_view segment) {
  std::size_t plain = 0; // the run of bytes not yet appended that need no escape
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const auto u = static_cast<unsigned char>(segment[i]);
    if (!k_plain_in_segment[u]) {
      out.append(segment.substr(plain, i - plain));
      format::append_percent_escape(out, u);
      plain = i + 1;
    }
  }
  out.append(segment.substr(plain));
}

// Whether a query parameter of this name (any case) carries a secret: signatures, tokens and
// keys of the object stores and OAuth.
bool is_secret_parameter(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const names[] = {"sig",
                                      "signature",
                                      "token",
                                      "access_token",
                                      "x-amz-signature",
                                      "x-amz-credential",
                                      "x-amz-security-token",
                                      "x-goog-signature",
                                      "x-goog-credential",
                                      "code",
                                      "key",
                                      "password",
                                      "secret",
                                      "se",
                                      "skoid"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// `query` (without its "?") with the values of secret parameters replaced by "***".
std::string redact_query(std::string_view query) {
  std::string out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) {
      end = query.size();
    }
    const std::string_view pair = query.substr(start, end - start);
    const std::size_t equals = pair.find('=');
    if (!out.empty() || start > 0) {
      out.push_back('&');
    }
    if (equals != std::string_view::npos &&
        is_secret_parameter(std::string(pair.substr(0, equals)))) {
      out.append(pair.substr(0, equals + 1)).append("***");
    } else {
      out.append(pair);
    }
    start = end + 1;
  }
  return out;
}

// Hides the credentials in the authority of `url`, in place: user:password@ becomes
// user:***@, and a user-only token@ becomes ***@.
void redact_user_info(std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return;
  }
  const std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  const std::size_t at = url.rfind('@', authority_end);
  if (at == std::string::npos || at < authority) {
    return;
  }
  const std::size_t colon = url.find(':', authority);
  if (colon != std::string::npos && colon < at) {
    url.replace(colon + 1, at - colon - 1, "***");
  } else {
    url.replace(authority, at - authority, "***");
  }
}

} // namespace

std::string redact(std::string_view url) {
  std::string out(url);
  redact_user_info(out);
  const std::size_t question = out.find('?');
  if (question == std::string::npos) {
    return out;
  }
  const std::size_t hash = std::min(out.find('#', question), out.size());
  return out.substr(0, question + 1) + redact_query(out.substr(question + 1, hash - question - 1)) +
         out.substr(hash);
}

std::string encode_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  append_encoded_segment(out, segment);
  return out;
}

// Not Poco::URI::decode: it throws on a broken escape, which this keeps as it is.
std::string decode_percent(std::string_view text) {
  const auto value = format::hex_digit_value;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && value(text[i + 1]) >= 0 &&
        value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(value(text[i + 1]) << 4 | value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string join(std::string_view root, std::string_view path) {
  std::string out;
  out.reserve(root.size() + 1 + path.size());
  out.append(root);
  if (out.empty() || out.back() != '/') {
    out.push_back('/');
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      slash = path.size();
    }
    append_encoded_segment(out, path.substr(start, slash - start));
    if (slash < path.size()) {
      out.push_back('/');
    }
    start = slash + 1;
  }
  return out;
}

} // namespace shared::http
