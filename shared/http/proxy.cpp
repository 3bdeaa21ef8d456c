#include "shared/http/proxy.hpp"

#include "shared/error/error.hpp"
#include "shared/http/url.hpp"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>

namespace shared::http {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::optional<std::string> first_set(const log::EnvLookup& env, const char* lower_name,
                                     const char* upper_name) {
  for (const char* name : {lower_name, upper_name}) {
    if (auto value = env(name); value && !value->empty()) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<Proxy> parse_proxy(const log::EnvLookup& env, const char* lower_name,
                                 const char* upper_name) {
  const auto value = first_set(env, lower_name, upper_name);
  if (!value) {
    return std::nullopt;
  }
  std::string text = *value;
  if (text.find("://") == std::string::npos) {
    text = "http://" + text; // "proxy:3128" is common
  }
  try {
    const Poco::URI uri(text);
    if (uri.getHost().empty()) {
      throw Poco::SyntaxException("no host");
    }
    if (uri.getScheme() != "http") {
      throw error::UsageError(std::string(upper_name) +
                              ": only http:// proxies are supported, got \"" + redact(*value) +
                              "\"");
    }
    Proxy proxy;
    proxy.host = uri.getHost();
    proxy.port = uri.getPort();
    const std::string& user_info = uri.getUserInfo();
    const auto colon = user_info.find(':');
    Poco::URI::decode(user_info.substr(0, colon), proxy.username);
    if (colon != std::string::npos) {
      Poco::URI::decode(user_info.substr(colon + 1), proxy.password);
    }
    return proxy;
  } catch (const Poco::Exception&) {
    throw error::UsageError(std::string(upper_name) + ": cannot parse proxy URL \"" + *value +
                            "\"");
  }
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

bool ProxySettings::bypasses(const std::string& no_proxy, const std::string& host_in,
                             std::uint16_t port) {
  const std::string host = Poco::toLower(host_in);
  std::size_t start = 0;
  while (start <= no_proxy.size()) {
    std::size_t comma = no_proxy.find(',', start);
    if (comma == std::string::npos) {
      comma = no_proxy.size();
    }
    std::string entry = Poco::toLower(trim(no_proxy.substr(start, comma - start)));
    start = comma + 1;
    if (entry.empty()) {
      continue;
    }
    if (entry == "*") {
      return true;
    }
    // An optional ":port" (not inside an IPv6 literal).
    const auto colon = entry.rfind(':');
    if (colon != std::string::npos && entry.find(']') == std::string::npos &&
        entry.find(':') == colon) {
      if (std::to_string(port) != entry.substr(colon + 1)) {
        continue;
      }
      entry.erase(colon);
    }
    if (!entry.empty() && entry.front() == '.') {
      entry.erase(0, 1);
    }
    if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') {
      entry = entry.substr(1, entry.size() - 2);
    }
    if (host == entry || (host.size() > entry.size() &&
                          host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
                          host[host.size() - entry.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

} // namespace shared::http
