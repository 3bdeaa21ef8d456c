#include "shared/fs/relative_path.hpp"

namespace shared::fs {
namespace {

bool is_drive_letter(std::string_view path) {
  return path.size() >= 2 && path[1] == ':' &&
         ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'));
}

} // namespace

std::optional<std::string> relative_path_problem(std::string_view path) {
  if (path.empty()) {
    return "empty path";
  }
  if (path.find('\0') != std::string_view::npos) {
    return "path contains a NUL byte";
  }
  if (path.front() == '/') {
    return "absolute path \"" + std::string(path) + "\"";
  }
  if (is_drive_letter(path)) {
    return "path with a drive letter \"" + std::string(path) + "\"";
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) {
      return "empty segment in path \"" + std::string(path) + "\"";
    }
    if (segment == "." || segment == "..") {
      return "\"" + std::string(segment) + "\" segment in path \"" + std::string(path) + "\"";
    }
    if (slash == std::string_view::npos) {
      return std::nullopt;
    }
    start = slash + 1;
  }
}

} // namespace shared::fs
