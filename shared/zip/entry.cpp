#include "shared/zip/entry.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

namespace shared::zip {
namespace {

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t k_min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < k_min[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string describe(std::string_view name) {
  return "zip entry \"" + std::string(name) + "\"";
}

} // namespace

std::optional<std::string> check_entry_name(std::string_view name, EntryKind kind) {
  if (name.empty()) {
    return "an empty name";
  }
  std::string_view body = name;
  if (kind == EntryKind::folder && body.back() == '/') {
    body.remove_suffix(1);
  }
  const std::size_t full_size = body.size() + (kind == EntryKind::folder ? 1 : 0);
  if (full_size > 0xFFFF) {
    return "a name longer than 65,535 bytes";
  }
  if (body.empty()) {
    return "an empty name";
  }
  if (body.front() == '/') {
    return "an absolute name";
  }
  if (body.back() == '/') {
    return kind == EntryKind::folder ? "an empty segment" : "a name ending with \"/\"";
  }
  if (body.find('\0') != std::string_view::npos) {
    return "a NUL byte in the name";
  }
  if (body.find('\\') != std::string_view::npos) {
    return "a backslash in the name";
  }
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t end = body.find('/', start);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    const std::string_view segment = body.substr(start, end - start);
    if (segment.empty()) {
      return "an empty segment";
    }
    if (segment == "." || segment == "..") {
      return "a \".\" or \"..\" segment";
    }
    start = end + 1;
  }
  if (!valid_utf8(body)) {
    return "a name that is not valid UTF-8";
  }
  return std::nullopt;
}

std::vector<Entry> prepare_entries(std::vector<Entry> entries) {
  for (Entry& entry : entries) {
    if (const auto problem = check_entry_name(entry.path, entry.kind)) {
      throw std::invalid_argument(describe(entry.path) + ": " + *problem);
    }
    switch (entry.kind) {
    case EntryKind::folder:
      if (entry.path.back() != '/') {
        entry.path.push_back('/');
      }
      entry.size = 0;
      entry.crc32.reset();
      break;
    case EntryKind::symlink:
      entry.size = entry.link_target.size();
      entry.crc32.reset();
      break;
    case EntryKind::file:
      break;
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.path < b.path; });

  // Names of files and symlinks, which no other entry may use as a folder.
  std::unordered_set<std::string_view> leaves;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && entries[i].path == entries[i - 1].path) {
      throw std::invalid_argument(describe(entries[i].path) + ": listed twice");
    }
    if (entries[i].kind != EntryKind::folder) {
      leaves.insert(entries[i].path);
    }
  }
  for (const Entry& entry : entries) {
    std::string_view name = entry.path;
    if (entry.kind == EntryKind::folder) {
      name.remove_suffix(1);
      if (leaves.count(name) > 0) {
        throw std::invalid_argument(describe(entry.path) + ": also a file or symlink");
      }
    }
    for (std::size_t slash = name.find('/'); slash != std::string_view::npos;
         slash = name.find('/', slash + 1)) {
      if (leaves.count(name.substr(0, slash)) > 0) {
        throw std::invalid_argument(describe(entry.path) + ": \"" +
                                    std::string(name.substr(0, slash)) +
                                    "\" is a file or symlink, not a folder");
      }
    }
  }
  return entries;
}

} // namespace shared::zip
