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

Eviction evict_least_recently_used(const std::string& cache_directory, std::uint64_t max_bytes,
                                   const std::string& current) {
  Eviction result;
  const std::string base = cache_directory + "/" + std::string(k_cache_folder);
  std::vector<Key> keys;
  std::error_code ec;
  std::vector<std::string> doomed_leftovers;
  for (stdfs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const stdfs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.find(".evicted-") != std::string::npos) {
      doomed_leftovers.push_back(entry.path().string()); // an eviction was killed midway
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
    result.bytes_before += key.bytes;
    keys.push_back(std::move(key));
  }
  for (const auto& leftover : doomed_leftovers) {
    stdfs::remove_all(leftover, ec);
  }
  std::sort(keys.begin(), keys.end(),
            [](const Key& a, const Key& b) { return a.last_used_ns < b.last_used_ns; });
  std::uint64_t total = result.bytes_before;
  for (const Key& key : keys) {
    if (total <= max_bytes) {
      break;
    }
    if (key.folder == current && key.bytes <= max_bytes) {
      continue; // kept: the others in use are what is over the limit
    }
    std::optional<CacheLock> lock; // the caller holds the current key's lock already
    if (key.folder != current) {
      try {
        lock.emplace(key.folder + std::string(k_lock_suffix));
      } catch (const error::IoError&) {
        result.busy.push_back(key.folder); // cannot tell whether someone uses it: kept
        continue;
      }
      if (!lock->acquire(CacheLock::Kind::exclusive, 0)) {
        result.busy.push_back(key.folder);
        continue;
      }
    }
    const std::string doomed = key.folder + ".evicted-" + std::to_string(::getpid());
    stdfs::remove_all(doomed, ec); // a leftover of a killed eviction under a reused pid
    if (::rename(key.folder.c_str(), doomed.c_str()) != 0) {
      continue;
    }
    stdfs::remove_all(doomed, ec);
    total -= key.bytes;
    result.evicted.push_back(key.folder);
  }
  result.bytes_after = total;
  return result;
}

} // namespace shared::cache
