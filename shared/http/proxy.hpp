// Proxy selection from HTTP_PROXY, HTTPS_PROXY and NO_PROXY (either case), as curl and most
// CI tools read them.
#pragma once

#include "shared/log/logger.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace shared::http {

/// One proxy server.
struct Proxy {
  std::string host;
  std::uint16_t port = 0;
  std::string username; ///< from the proxy URL's user:password@, may be empty
  std::string password;
};

/// The proxy variables of an environment.
class ProxySettings {
public:
  /// Reads https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY, no_proxy/NO_PROXY (lower case
  /// wins, as curl does). Throws error::UsageError naming the variable for a proxy URL
  /// that cannot be parsed.
  static ProxySettings from_environment(const log::EnvLookup& env);

  /// The proxy for a request to scheme://host:port, or nullopt for a direct connection.
  std::optional<Proxy> proxy_for(const std::string& scheme, const std::string& host,
                                 std::uint16_t port) const;

  /// Whether NO_PROXY exempts host:port: "*", a host name or domain suffix ("example.com"
  /// and ".example.com" both match "a.example.com"), an IP address, each optionally with
  /// ":port". Comparison ignores case.
  static bool bypasses(const std::string& no_proxy, const std::string& host, std::uint16_t port);

private:
  std::optional<Proxy> m_http;
  std::optional<Proxy> m_https;
  std::string m_no_proxy;
};

} // namespace shared::http
