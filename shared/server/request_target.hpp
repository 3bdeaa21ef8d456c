// The request target of an HTTP request (RFC 9112 §3.2) taken apart as a file server must:
// the raw path in segments, each segment percent-decoded once (RFC 3986 §2.1) and refused when
// it could name anything but one entry of one folder; the query's parameters.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace shared::server {

/// A request the server refuses with a 4xx status before doing anything; the message is one
/// line for the client and the log.
class HttpError : public std::runtime_error {
public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), m_status(status) {}
  int status() const noexcept { return m_status; }

private:
  int m_status;
};

/// Longest decoded segment in bytes (Linux NAME_MAX).
inline constexpr std::size_t k_max_segment = 255;

/// The path and query of a request target, both still percent-encoded.
struct RequestTarget {
  std::string path;  ///< starts with "/"
  std::string query; ///< without the "?"; "" when none
};

/// Splits an origin-form ("/a/b?x=1") or absolute-form ("http://host/a/b?x=1") target.
/// Throws HttpError 400 for anything else (e.g. "*" or a path not starting with "/").
RequestTarget split_target(std::string_view target);

/// The segments of a raw path: "/a/b/" → {"a", "b", ""}, "/" → {""}; still encoded.
std::vector<std::string> raw_segments(std::string_view path);

/// One path segment decoded for use as one file or folder name under a root. Throws
/// HttpError 400 when the encoding is bad ("%" not followed by two hex digits) or when the
/// decoded name is empty, ".", "..", longer than k_max_segment, or holds "/", "\", NUL, a
/// control character or "%" (a second layer of encoding such as %252e%252e).
std::string decode_segment(std::string_view raw);

/// Percent-decodes `text` once ("+" stays "+" unless `plus_is_space`). Throws HttpError 400
/// for a bad "%" sequence.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

/// `text` with every byte outside RFC 3986 unreserved characters percent-encoded.
std::string percent_encode(std::string_view text);

/// The query's parameters ("a=1&b=&c"), decoded ("+" is a space); the last one wins when a
/// name repeats. Throws HttpError 400 for a bad "%" sequence.
std::map<std::string, std::string> parse_query(std::string_view query);

} // namespace shared::server
