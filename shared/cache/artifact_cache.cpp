// ArtifactCache: reading a key's cache (open, find). update() is in artifact_cache_update.cpp.
#include "shared/cache/artifact_cache.hpp"

#include "shared/cache/generation.hpp"
#include "shared/error/error.hpp"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <tuple>

namespace shared::cache {

namespace stdfs = std::filesystem;

bool is_key_folder_name(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

ArtifactCache::ArtifactCache(const std::string& cache_folder, const std::string& key)
    : m_path(cache_folder + "/" + std::string(k_cache_folder) + "/" +
             hash::to_hex(hash::sha256(key), false)) {}

ArtifactCache::State ArtifactCache::open(std::string& reason) {
  m_objects.clear();
  m_sizes.clear();
  const auto marker = read_text(m_path + "/" + k_current + "/" + k_marker);
  if (!marker) {
    const bool exists = stdfs::exists(m_path);
    reason = exists ? "no " + std::string(k_marker) + " marker (an update did not finish)"
                    : "no cache for this key yet";
    return exists ? State::untrusted : State::missing;
  }
  bool trusted = false;
  try {
    trusted = load_current(*marker, reason);
  } catch (const std::exception& e) {
    reason = std::string("unreadable cache: ") + e.what();
  }
  if (!trusted) {
    m_objects.clear();
    m_sizes.clear();
    return State::untrusted;
  }
  return State::trusted;
}

bool ArtifactCache::load_current(const std::string& marker, std::string& reason) {
  auto generation = read_generation(m_path + "/" + k_current, marker, reason);
  if (!generation) {
    return false;
  }
  auto& entries = generation->metadata.entries;
  m_sizes.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Fingerprint& recorded = generation->fingerprints[i];
    m_objects.emplace(std::piecewise_construct, std::forward_as_tuple(entries[i].sha256),
                      std::forward_as_tuple(recorded));
    m_sizes.emplace_back(std::move(entries[i].path), recorded.size);
  }
  std::sort(m_sizes.begin(), m_sizes.end()); // already sorted as written: one pass
  m_objects_fd.reset(
      ::open((m_path + "/" + k_objects).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat folder {};
  if (m_objects_fd.get() >= 0 && ::fstat(m_objects_fd.get(), &folder) == 0) {
    m_objects_device = static_cast<std::uint64_t>(folder.st_dev);
  } else if (!m_objects.empty()) {
    reason = error::system_message("cannot open its objects", errno);
    return false;
  }
  reason = "last updated " + generation->last_updated;
  return true;
}

std::vector<std::string> ArtifactCache::leftovers() const {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(m_path, ec)) {
    if (entry.path().filename().string().rfind(k_next_prefix, 0) == 0) {
      found.push_back(entry.path().string());
    }
  }
  const stdfs::path key(m_path);
  const std::string sibling = key.filename().string() + ".";
  for (const auto& entry : stdfs::directory_iterator(key.parent_path(), ec)) {
    if (entry.path().filename().string().rfind(sibling, 0) == 0 && entry.is_directory(ec)) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

std::optional<CachedFile> ArtifactCache::find(const hash::Digest& sha256) const {
  const auto recorded = m_objects.find(sha256);
  if (recorded == m_objects.end()) {
    return std::nullopt;
  }
  std::string name = hash::to_hex(sha256, false);
  CachedFile file{m_path + "/" + k_objects + "/" + name, m_objects_fd.get(), {}};
  if (rejected(file.path)) {
    return std::nullopt; // failed its check once already in this run
  }
  const auto now = Fingerprint::of(m_objects_fd.get(), name);
  if (!now) {
    return std::nullopt;
  }
  file.unchanged = *now == recorded->second.recorded;
  file.size = now->size;
  file.device = m_objects_device;
  file.inode = now->inode;
  file.name = std::move(name);
  if (file.unchanged) {
    recorded->second.seen_unchanged.store(true, std::memory_order_relaxed);
  }
  return file;
}

std::optional<std::uint64_t> ArtifactCache::size_at(const std::string& path) const {
  const auto at = std::lower_bound(m_sizes.begin(), m_sizes.end(), path,
                                   [](const std::pair<std::string, std::uint64_t>& row,
                                      const std::string& wanted) { return row.first < wanted; });
  if (at == m_sizes.end() || at->first != path) {
    return std::nullopt;
  }
  return at->second;
}

void ArtifactCache::reject(const std::string& path) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_rejected.insert(path);
  m_any_rejected.store(true, std::memory_order_release);
}

bool ArtifactCache::rejected(const std::string& path) const {
  if (!m_any_rejected.load(std::memory_order_acquire)) {
    return false;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_rejected.count(path) != 0;
}

} // namespace shared::cache
