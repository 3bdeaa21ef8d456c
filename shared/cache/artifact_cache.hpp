// The local artifact cache of incremental downloads (seed 002).
//
// The cache of one key lives in <cacheDirectory>/ArtifactEngineCache/<SHA-256 hex of the key>/:
//   files/<relative path>    the files of the last good download
//   artifact-metadata.csv    the metadata they came with
//   .verify                  written last: {"lastUpdatedOn": "<UTC ISO 8601>",
//                            "metadataSha256": "<SHA-256 of that CSV>"}
// A cache is trusted only when .verify is present and names the SHA-256 of the CSV beside it.
// An update builds the new cache beside the old one and swaps the two folders with one
// renameat2(RENAME_EXCHANGE), so a crash at any point leaves either the old good cache or the
// new one, never a half-written one that looks good.
#pragma once

#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace shared::cache {

/// One key's cache. Not thread-safe for updates; find() may be called from many threads
/// after open().
class ArtifactCache {
public:
  /// What open() found.
  enum class State { missing, untrusted, trusted };

  /// `cache_directory`: the folder holding ArtifactEngineCache/ (created on update).
  /// `key`: the source's cache key; only its SHA-256 names the folder.
  ArtifactCache(const std::string& cache_directory, const std::string& key);

  /// The key's folder.
  const std::string& path() const { return m_path; }

  /// Loads the cache's metadata when it can be trusted. `reason` says why not otherwise
  /// (no marker, marker for another CSV, unreadable CSV). Never throws for a bad cache.
  State open(std::string& reason);

  /// A cached file with this content: the same path with the same hash first, else any
  /// cached file with that hash (a moved or renamed file). nullopt when none.
  std::optional<std::string> find(const std::string& path, const hash::Digest& sha256) const;

  /// Replaces the cache with the files of `root` named by `entries` (paths relative to `root`
  /// with the hashes they were checked against); entries missing from `root` are left out.
  /// Files are copied. Throws error::IoError; the previous cache stays in place on any failure.
  void update(const std::string& root, const std::vector<metadata::Entry>& entries);

private:
  std::string m_path;
  metadata::Metadata m_metadata;
  std::unordered_map<std::string, std::string> m_by_hash; // hex digest → relative path
};

} // namespace shared::cache
