#include "shared/server/request_target.hpp"

#include "shared/format/hex.hpp"

namespace shared::server {
using format::hex_digit_value;

RequestTarget split_target(std::string_view target) {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    const auto authority = target.find("//") + 2;
    const auto path = target.find_first_of("/?", authority);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  if (target.empty() || target.front() != '/') {
    throw HttpError(400, "the request target is not a path");
  }
  RequestTarget result;
  const auto question = target.find('?');
  result.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    result.query = std::string(target.substr(question + 1));
  }
  const auto hash = result.query.find('#');
  if (hash != std::string::npos) {
    result.query.resize(hash);
  }
  return result;
}

std::vector<std::string> raw_segments(std::string_view path) {
  std::vector<std::string> segments;
  if (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    segments.emplace_back(
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return segments;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int high = i + 2 < text.size() ? hex_digit_value(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_digit_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        throw HttpError(400, "bad percent-encoding in the request target");
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string decode_segment(std::string_view raw) {
  const std::string name = percent_decode(raw);
  if (name.empty() || name == "." || name == "..") {
    throw HttpError(400, "a path segment is empty, \".\" or \"..\"");
  }
  if (name.size() > k_max_segment) {
    throw HttpError(400,
                    "a path segment is longer than " + std::to_string(k_max_segment) + " bytes");
  }
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\') {
      throw HttpError(400, "a path segment holds an encoded \"/\" or \"\\\"");
    }
    if (c == '%') {
      throw HttpError(400, "a path segment is encoded twice");
    }
    if (byte < 0x20 || byte == 0x7f) {
      throw HttpError(400, "a path segment holds NUL or a control character");
    }
  }
  return name;
}

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      format::append_percent_escape(out, static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> params;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    auto amp = query.find('&', start);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    const std::string_view pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      const auto equals = pair.find('=');
      const std::string name = percent_decode(pair.substr(0, equals), true);
      params[name] =
          equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1), true);
    }
    start = amp + 1;
  }
  return params;
}

} // namespace shared::server
