#include "shared/server/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace shared::server {
namespace {

bool is_capture(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool is_rest(const std::string& segment) {
  return is_capture(segment) && segment[segment.size() - 2] == '+';
}

std::string capture_name(const std::string& segment) {
  return segment.substr(1, segment.size() - (is_rest(segment) ? 3 : 2));
}

// The request's segments without one trailing empty one ("/a/b/" → a, b).
std::vector<std::string> request_segments(const std::string& raw_path) {
  std::vector<std::string> segments = raw_segments(raw_path);
  if (segments.size() > 1 && segments.back().empty()) {
    segments.pop_back();
  }
  return segments;
}

// Whether `segments` have the route's shape (literals equal, enough segments for captures).
bool shape_matches(const Router::Route& route, const std::vector<std::string>& segments) {
  const auto& pattern = route.segments;
  const bool rest = !pattern.empty() && is_rest(pattern.back());
  if (rest ? segments.size() < pattern.size() : segments.size() != pattern.size()) {
    return false;
  }
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (!is_capture(pattern[i]) && pattern[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

} // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler,
                 RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern \"" + pattern + "\" does not start with /");
  }
  Route route{method, request_segments(pattern), std::move(handler), options};
  for (std::size_t i = 0; i + 1 < route.segments.size(); ++i) {
    if (is_rest(route.segments[i])) {
      throw std::invalid_argument("route pattern \"" + pattern + "\": {name+} must be last");
    }
  }
  m_routes.push_back(std::move(route));
}

const Router::Route* Router::find(const std::string& method, const std::string& raw_path,
                                  Exchange& exchange) const {
  const std::vector<std::string> segments = request_segments(raw_path);
  const std::string wanted = method == "HEAD" ? "GET" : method;
  for (const Route& route : m_routes) {
    if (route.method != wanted || !shape_matches(route, segments)) {
      continue;
    }
    for (std::size_t i = 0; i < route.segments.size(); ++i) {
      const std::string& part = route.segments[i];
      if (is_rest(part)) {
        for (std::size_t j = i; j < segments.size(); ++j) {
          exchange.rest.push_back(decode_segment(segments[j]));
        }
      } else if (is_capture(part)) {
        exchange.params[capture_name(part)] = decode_segment(segments[i]);
      }
    }
    return &route;
  }
  return nullptr;
}

std::vector<std::string> Router::allowed(const std::string& raw_path) const {
  const std::vector<std::string> segments = request_segments(raw_path);
  std::vector<std::string> methods;
  for (const Route& route : m_routes) {
    if (shape_matches(route, segments)) {
      methods.push_back(route.method);
      if (route.method == "GET") {
        methods.push_back("HEAD");
      }
    }
  }
  if (!methods.empty()) {
    methods.push_back("OPTIONS");
  }
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  return methods;
}

} // namespace shared::server
