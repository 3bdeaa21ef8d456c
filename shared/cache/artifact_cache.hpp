// The local artifact cache of incremental downloads: the files of the last good download of
// a source, found by content, so that the next download copies or links them instead.
//
// The cache of one key lives in <cacheDirectory>/ArtifactEngineCache/<SHA-256 hex of the key>/:
//   objects/<sha256 hex>     the files of the last good download, named by their content's
//                            SHA-256 (lowercase hex), read-only (0444); one file per content
//   current/                 the generation that says what the cache holds:
//     artifact-metadata.csv  the metadata the files came with (RFC 4180, sorted by path)
//     fingerprints           one line "<size> <mtime ns> <inode>" per CSV row, same order:
//                            each row's object as it was when cached
//     .verify                written last: {"lastUpdatedOn": "<UTC ISO 8601>",
//                            "metadataSha256": "…", "fingerprintsSha256": "…"}
// and beside the key folder "<hex>.lock" (see CacheLock). A cache is trusted only when
// current/.verify is present and names the SHA-256 of both files beside it. Objects are never
// changed in place: an update adds the objects it needs, builds the next generation in
// new-<pid>/ and swaps it with current/ in one renameat2(RENAME_EXCHANGE); only then are the
// objects the new generation does not name deleted. A crash at any point leaves either the old
// good cache or the new one (with at most some unreferenced objects and a new-<pid>/ folder,
// removed by the next update), never a half-written one that looks good.
#pragma once

#include "shared/fs/descriptor.hpp"
#include "shared/fs/fingerprint.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace shared::cache {

/// The folder under the cache folder (the cacheDirectory input) that holds every key's cache.
inline constexpr std::string_view k_cache_folder = "ArtifactEngineCache";
/// Appended to a key folder's path to name its lock file.
inline constexpr std::string_view k_lock_suffix = ".lock";

/// Whether `name` is a key folder's or an object's name (64 lowercase hex digits).
bool is_key_folder_name(std::string_view name);

/// What identifies a file's content without reading it (size, modification time, inode).
using Fingerprint = fs::Fingerprint;

/// A cached file with an item's content.
struct CachedFile {
  std::string path;         ///< absolute, or relative to the working directory
  int folder_fd = -1;       ///< the cache's objects/ folder, open while the ArtifactCache lives
  std::string name;         ///< the file's name in it
  bool unchanged = false;   ///< its fingerprint is the one recorded when it was cached
  std::uint64_t size = 0;   ///< bytes, as just found (a regular file)
  std::uint64_t device = 0; ///< st_dev: with the inode, which file it is
  std::uint64_t inode = 0;  ///< st_ino
};

/// One key's cache. open() and find() read it; update() replaces it (hold the key's
/// CacheLock exclusive for that). find() may be called from many threads after open().
class ArtifactCache {
public:
  /// What open() found.
  enum class State { missing, untrusted, trusted };

  /// How update() puts the destination's files into objects/.
  enum class Link {
    hardlink, ///< reflink, else hard link (the destination's file becomes read-only), else copy
    copy,     ///< reflink, else copy: the cache never shares a file with the destination
  };

  /// `cache_folder`: the folder holding ArtifactEngineCache/ (absolute, or relative to the
  /// working directory; created on update). `key`: the source's cache key; only its SHA-256
  /// names the folder. Touches no file.
  ArtifactCache(const std::string& cache_folder, const std::string& key);

  /// The key's folder.
  const std::string& path() const { return m_path; }
  /// The key's lock file.
  std::string lock_path() const { return m_path + std::string(k_lock_suffix); }

  /// Loads the cache's metadata when it can be trusted. `reason` says why not otherwise
  /// (no marker, marker for other files, unreadable files) or, when trusted, when it was
  /// last updated. Never throws for a bad cache.
  State open(std::string& reason);

  /// The paths of what interrupted updates (new-<pid>/ in the key folder) or evictions
  /// ("<key folder>.evicted-<pid>" beside it) left behind. Never throws for a missing folder.
  std::vector<std::string> leftovers() const;

  /// Whether the cache lists a file with this content (no disk access).
  bool has(const hash::Digest& sha256) const { return m_objects.count(sha256) != 0; }

  /// The cached file with this content, whatever path it had (so a moved or renamed file is
  /// found too); nullopt when none, when it is gone, or when it was rejected. One fstatat(2);
  /// never throws.
  std::optional<CachedFile> find(const hash::Digest& sha256) const;

  /// The size in bytes of the file the cached metadata lists at `path` (relative to the
  /// artifact root), when it lists one: what an earlier version of that item weighed.
  std::optional<std::uint64_t> size_at(const std::string& path) const;

  /// Marks a cached file (a path find() returned) as bad: update() will not keep it.
  /// Thread-safe.
  void reject(const std::string& path);

  /// Replaces the cache with the files of `root` named by `entries` (paths relative to `root`
  /// with the hashes they were checked against). A content this cache already holds unchanged
  /// is kept as it is (no I/O but a stat); each other one is copied or hard-linked into
  /// objects/ from the first of its files in `root` that qualifies, as `link` says: a missing
  /// file is left out, and without `checked` a file that is the changed object itself (a hard
  /// link of it) is hashed first. `checked` (may be null), one per entry: the fingerprint each
  /// file had when its check finished; with it a file is cached only while it still has that
  /// fingerprint (a file changed since, or never checked, is left out), so nothing written
  /// into `root` after the check gets in. Removes leftovers first. Returns the number of
  /// entries cached. Throws error::IoError (a file or folder that cannot be created, copied
  /// or synced) and std::invalid_argument (a path artifact-metadata.csv cannot hold, or one
  /// path twice); the previous cache stays in place on any failure.
  std::size_t update(const std::string& root, const std::vector<metadata::Entry>& entries,
                     Link link, const std::vector<std::optional<Fingerprint>>* checked = nullptr);

private:
  class Update; // one call of update(): its steps (artifact_cache.cpp)

  struct DigestHash {
    std::size_t operator()(const hash::Digest& digest) const {
      std::size_t value = 0;
      std::memcpy(&value, digest.data(), sizeof value);
      return value;
    }
  };

  std::string m_path;
  fs::Descriptor m_objects_fd;        // objects/, once open() found the cache trusted
  std::uint64_t m_objects_device = 0; // its st_dev
  // An object the current generation names: its fingerprint as recorded, and whether find()
  // has seen it unchanged in this run (update() then need not look again).
  struct Object {
    explicit Object(const Fingerprint& fingerprint) : recorded(fingerprint) {}
    Fingerprint recorded;
    mutable std::atomic<bool> seen_unchanged{false};
  };
  std::unordered_map<hash::Digest, Object, DigestHash> m_objects;
  std::vector<std::pair<std::string, std::uint64_t>> m_sizes; // path, bytes; sorted by path
  mutable std::mutex m_mutex;                                 // guards m_rejected
  std::atomic<bool> m_any_rejected{false};
  std::unordered_set<std::string> m_rejected; // paths find() gave that failed their check

  // Whether the object at `path` (as find() gave it) failed its check in this run.
  bool rejected(const std::string& path) const;
  // Loads the generation in current/, whose .verify marker is `marker` (see open()); false,
  // with `reason`, when it is not trusted. Throws for files that cannot be parsed.
  bool load_current(const std::string& marker, std::string& reason);
};

} // namespace shared::cache
