// Keeping the artifact cache under a size limit (the cacheMaxSize input).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shared::cache {

/// What evict_least_recently_used() did.
struct Eviction {
  std::uint64_t bytes_before = 0;   ///< all keys' caches, bytes
  std::uint64_t bytes_after = 0;    ///< what is left
  std::vector<std::string> evicted; ///< key folders removed
  std::vector<std::string> busy;    ///< key folders that would go but another job holds
};

/// Removes whole key caches under `<cache_folder>/ArtifactEngineCache/`, least recently used
/// first (the modification time of each key's lock file, see CacheLock::touch), until their
/// total size is at most `max_bytes`. A key is removed only when its lock can be taken at
/// once. `current` is the key folder the caller holds exclusively: it goes last, only when it
/// alone passes the limit. Sizes are file sizes in bytes, a file with several links counted
/// once. A folder is renamed away before it is deleted, so no reader sees it half-deleted.
/// Never throws for a folder it cannot measure or delete (it is left out).
Eviction evict_least_recently_used(const std::string& cache_folder, std::uint64_t max_bytes,
                                   const std::string& current);

/// The bytes of one key folder as eviction counts them.
std::uint64_t folder_bytes(const std::string& folder);

} // namespace shared::cache
