#include "shared/http/proxy.hpp"

#include "shared/error/error.hpp"
#include "shared/http/url.hpp"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

namespace shared::http {
namespace {

// The value of the first of the two variables that is set and not empty.
std::optional<std::string> first_set(const log::EnvLookup& env, const char* lower_name,
                                     const char* upper_name) {
  for (const char* name : {lower_name, upper_name}) {
    if (auto value = env(name); value && !value->empty()) {
      return value;
    }
  }
  return std::nullopt;
}

// The proxy named by the first of `lower_name`, `upper_name` that is set, or nullopt. Throws
// error::UsageError naming `upper_name` for a value that is not an http:// URL with a host.
std::optional<Proxy> parse_proxy(const log::EnvLookup& env, const char* lower_name,
                                 const char* upper_name) {
  const auto value = first_set(env, lower_name, upper_name);
  if (!value) {
    return std::nullopt;
  }
  // "proxy:3128" is common: a value without a scheme is taken as http://.
  const std::string text = value->find("://") == std::string::npos ? "http://" + *value : *value;
  const error::UsageError cannot_parse(std::string(upper_name) + ": cannot parse proxy URL \"" +
                                       redact(text) + "\"");
  Poco::URI uri;
  try {
    uri = Poco::URI(text);
  } catch (const Poco::Exception&) {
    throw cannot_parse;
  }
  if (uri.getHost().empty()) {
    throw cannot_parse;
  }
  if (uri.getScheme() != "http") {
    throw error::UsageError(std::string(upper_name) +
                            ": only http:// proxies are supported, got \"" + redact(*value) + "\"");
  }
  Proxy proxy;
  proxy.host = uri.getHost();
  proxy.port = uri.getPort();
  const std::string& user_info = uri.getUserInfo(); // "user:password", percent-encoded
  const auto colon = user_info.find(':');
  try {
    Poco::URI::decode(user_info.substr(0, colon), proxy.username);
    if (colon != std::string::npos) {
      Poco::URI::decode(user_info.substr(colon + 1), proxy.password);
    }
  } catch (const Poco::Exception&) {
    throw cannot_parse;
  }
  return proxy;
}

// Whether one NO_PROXY entry (lower case, trimmed, not empty) exempts `host` (lower case) on
// `port`.
bool entry_matches(std::string entry, const std::string& host, std::uint16_t port) {
  if (entry == "*") {
    return true;
  }
  // An optional ":port" (not inside an IPv6 literal).
  const auto colon = entry.rfind(':');
  if (colon != std::string::npos && entry.find(']') == std::string::npos &&
      entry.find(':') == colon) {
    if (std::to_string(port) != entry.substr(colon + 1)) {
      return false;
    }
    entry.erase(colon);
  }
  if (!entry.empty() && entry.front() == '.') {
    entry.erase(0, 1);
  }
  if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') {
    entry = entry.substr(1, entry.size() - 2);
  }
  // The host itself, or a host in its domain.
  return host == entry || (host.size() > entry.size() &&
                           host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
                           host[host.size() - entry.size() - 1] == '.');
}

} // namespace

ProxySettings ProxySettings::from_environment(const log::EnvLookup& env) {
  ProxySettings settings;
  settings.m_http = parse_proxy(env, "http_proxy", "HTTP_PROXY");
  settings.m_https = parse_proxy(env, "https_proxy", "HTTPS_PROXY");
  settings.m_no_proxy = first_set(env, "no_proxy", "NO_PROXY").value_or("");
  return settings;
}

std::optional<Proxy> ProxySettings::proxy_for(const std::string& scheme, const std::string& host,
                                              std::uint16_t port) const {
  const std::optional<Proxy>& proxy = scheme == "https" ? m_https : m_http;
  if (!proxy || bypasses(m_no_proxy, host, port)) {
    return std::nullopt;
  }
  return proxy;
}

bool ProxySettings::bypasses(const std::string& no_proxy, const std::string& host,
                             std::uint16_t port) {
  const std::string lower_host = Poco::toLower(host);
  std::size_t start = 0;
  while (start <= no_proxy.size()) {
    std::size_t comma = no_proxy.find(',', start);
    if (comma == std::string::npos) {
      comma = no_proxy.size();
    }
    const std::string entry = Poco::toLower(Poco::trim(no_proxy.substr(start, comma - start)));
    if (!entry.empty() && entry_matches(entry, lower_host, port)) {
      return true;
    }
    start = comma + 1;
  }
  return false;
}

} // namespace shared::http
