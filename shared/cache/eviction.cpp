#include "shared/cache/eviction.hpp"

#include "shared/cache/artifact_cache.hpp"
#include "shared/cache/cache_lock.hpp"
#include "shared/error/error.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace shared::cache {
namespace {

namespace stdfs = std::filesystem;

// What a key folder's name has in it while it is being evicted: "<key folder>.evicted-<pid>".
const char* const k_evicted_infix = ".evicted-";

struct Key {
  std::string folder;
  std::uint64_t bytes = 0;
  std::int64_t last_used_ns = 0;
};

std::int64_t modified_ns(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return 0;
  }
  return static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
}

// The key folders under `base`, each with its bytes and last use (`current` last of all).
// Deletes what killed evictions left there.
std::vector<Key> list_keys(const std::string& base, const std::string& current) {
  std::vector<Key> keys;
  std::vector<std::string> killed_evictions;
  std::error_code ec;
  for (stdfs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const stdfs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.find(k_evicted_infix) != std::string::npos) {
      killed_evictions.push_back(entry.path().string());
      continue;
    }
    if (!is_key_folder_name(name) || !entry.is_directory(ec)) {
      continue;
    }
    Key key;
    key.folder = entry.path().string();
    key.bytes = folder_bytes(key.folder);
    key.last_used_ns = modified_ns(key.folder + std::string(k_lock_suffix));
    if (key.folder == current) {
      key.last_used_ns = INT64_MAX; // the key in use now goes last
    }
    keys.push_back(std::move(key));
  }
  for (const auto& leftover : killed_evictions) {
    stdfs::remove_all(leftover, ec);
  }
  return keys;
}

enum class Outcome { evicted, busy, failed };

// Removes one key folder: renamed away first (so no reader sees it half-deleted), then
// deleted. A key other than `current` only when its lock can be taken at once.
Outcome evict_key(const std::string& folder, const std::string& current) {
  std::optional<CacheLock> lock; // the caller holds the current key's lock already
  if (folder != current) {
    try {
      lock.emplace(folder + std::string(k_lock_suffix));
    } catch (const error::IoError&) {
      return Outcome::busy; // cannot tell whether someone uses it: kept
    }
    if (!lock->acquire(CacheLock::Kind::exclusive, 0)) {
      return Outcome::busy;
    }
  }
  const std::string doomed = folder + k_evicted_infix + std::to_string(::getpid());
  std::error_code ec;
  stdfs::remove_all(doomed, ec); // a leftover of a killed eviction under a reused pid
  if (::rename(folder.c_str(), doomed.c_str()) != 0) {
    return Outcome::failed;
  }
  stdfs::remove_all(doomed, ec);
  return Outcome::evicted;
}

} // namespace

std::uint64_t folder_bytes(const std::string& folder) {
  std::uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        (info.st_nlink == 1 || seen.emplace(info.st_dev, info.st_ino).second)) {
      total += static_cast<std::uint64_t>(info.st_size);
    }
  }
  return total;
}

Eviction evict_least_recently_used(const std::string& cache_folder, std::uint64_t max_bytes,
                                   const std::string& current) {
  std::vector<Key> keys = list_keys(cache_folder + "/" + std::string(k_cache_folder), current);
  std::sort(keys.begin(), keys.end(),
            [](const Key& a, const Key& b) { return a.last_used_ns < b.last_used_ns; });
  Eviction result;
  for (const Key& key : keys) {
    result.bytes_before += key.bytes;
  }
  std::uint64_t total = result.bytes_before;
  for (const Key& key : keys) {
    if (total <= max_bytes) {
      break;
    }
    if (key.folder == current && key.bytes <= max_bytes) {
      continue; // kept: the others in use are what is over the limit
    }
    switch (evict_key(key.folder, current)) {
    case Outcome::evicted:
      total -= key.bytes;
      result.evicted.push_back(key.folder);
      break;
    case Outcome::busy:
      result.busy.push_back(key.folder);
      break;
    case Outcome::failed:
      break;
    }
  }
  result.bytes_after = total;
  return result;
}

} // namespace shared::cache
