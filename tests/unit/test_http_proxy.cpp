#include "shared/error/error.hpp"
#include "shared/http/proxy.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace shared::http;

namespace {

shared::log::EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

} // namespace

TEST_CASE("NO_PROXY matches hosts, domain suffixes, ports and *", "[http]") {
  CHECK(ProxySettings::bypasses("*", "anything", 80));
  CHECK(ProxySettings::bypasses("example.com", "example.com", 80));
  CHECK(ProxySettings::bypasses("example.com", "a.b.example.com", 80));
  CHECK(ProxySettings::bypasses(".example.com", "a.example.com", 80));
  CHECK_FALSE(ProxySettings::bypasses("example.com", "badexample.com", 80));
  CHECK(ProxySettings::bypasses("localhost, 127.0.0.1", "127.0.0.1", 8080));
  CHECK(ProxySettings::bypasses("Example.COM", "www.example.com", 443));
  CHECK(ProxySettings::bypasses("internal:8443", "internal", 8443));
  CHECK_FALSE(ProxySettings::bypasses("internal:8443", "internal", 443));
  CHECK(ProxySettings::bypasses("[::1]", "::1", 80));
  CHECK_FALSE(ProxySettings::bypasses("", "example.com", 80));
}

TEST_CASE("proxies come from the environment, lower case first", "[http]") {
  const auto settings =
      ProxySettings::from_environment(env({{"HTTPS_PROXY", "http://user:p%40ss@proxy:3128"},
                                           {"http_proxy", "plainproxy:8080"},
                                           {"HTTP_PROXY", "ignored:1"},
                                           {"NO_PROXY", "internal.example"}}));
  const auto https = settings.proxy_for("https", "example.com", 443);
  REQUIRE(https);
  CHECK(https->host == "proxy");
  CHECK(https->port == 3128);
  CHECK(https->username == "user");
  CHECK(https->password == "p@ss");
  const auto http = settings.proxy_for("http", "example.com", 80);
  REQUIRE(http);
  CHECK(http->host == "plainproxy");
  CHECK(http->port == 8080);
  CHECK_FALSE(settings.proxy_for("https", "a.internal.example", 443));
  CHECK_FALSE(ProxySettings::from_environment(env({})).proxy_for("http", "h", 80));
  CHECK_THROWS_AS(ProxySettings::from_environment(env({{"HTTPS_PROXY", "http://:3128"}})),
                  shared::error::UsageError);
}
