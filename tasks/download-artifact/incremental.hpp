// The incremental side of download-artifact: the key's lock, the cache's files offered to the
// download as local copies, the cache update afterwards and the size limit.
#pragma once

#include "shared/cache/artifact_cache.hpp"
#include "shared/cache/cache_lock.hpp"
#include "shared/log/logger.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "shared/transfer/downloader.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tasks::download_artifact {

/// The cache inputs.
struct CacheOptions {
  std::string folder; ///< the folder holding ArtifactEngineCache/ (cacheDirectory)
  std::string key;    ///< cacheKey; empty: the source's own key
  shared::cache::ArtifactCache::Link link = shared::cache::ArtifactCache::Link::hardlink;
  bool hash_every_file = false; ///< cacheValidation: hash
  std::uint64_t max_size = 0;   ///< cacheMaxSize: bytes over all keys; 0: no limit
  double lock_timeout = 120;    ///< cacheLockTimeout: seconds
};

/// One run's use of one key's cache. Problems with the cache are warnings: the download goes
/// on without it. Only SIGINT (error::Interrupted) escapes.
class IncrementalCache : private shared::transfer::LocalCopies {
public:
  /// `options.key` must be set (the input, else the source's key).
  IncrementalCache(const CacheOptions& options, shared::log::Logger& logger,
                   std::function<bool()> cancelled);

  /// Acquires the key's lock shared (waiting up to the timeout, or until `give_up` returns
  /// true) and reads the cache. Logs nothing, so that it can run while the source is listed;
  /// throws only error::Interrupted (SIGINT).
  void open(const std::function<bool()>& give_up);

  /// After open(): acquires the lock if open() did not need it, logs what it found and, when
  /// the cache is trusted, makes its files `download`'s local copies (and marks the key used,
  /// for eviction). Throws only error::Interrupted.
  void offer_local_copies(shared::transfer::DownloadOptions& download);

  /// After a download without failures: acquires the lock exclusive, replaces the cache with
  /// the `entries` found in `destination` (caching a new content only from a file whose
  /// fingerprint is still its `checked` one, one per entry: see DownloadSummary::checked) and
  /// keeps all caches under the size limit. Cache problems are warnings; throws
  /// error::Interrupted while it waits for the lock, error::IoError when flock(2) fails.
  void update(const std::string& destination, const std::vector<shared::metadata::Entry>& entries,
              const std::vector<std::optional<shared::fs::Fingerprint>>& checked);

private:
  bool has(const shared::hash::Digest& sha256) const override;
  std::optional<shared::transfer::LocalCopy> find(const shared::source::Item& item) const override;
  void failed(const shared::transfer::LocalCopy& copy) override;
  std::optional<std::uint64_t> size_hint(const shared::source::Item& item) const override;
  void evict(); // keeps all keys under max_size; logs what it did
  // Acquires the key's lock shared, waiting up to the timeout or until `stop`; false (m_busy)
  // when it did not get it. Throws error::Interrupted when `stop` is SIGINT.
  bool acquire_shared_lock(const std::function<bool()>& stop);

  CacheOptions m_options;
  shared::cache::ArtifactCache m_cache;
  shared::log::Logger& m_logger;
  std::function<bool()> m_cancelled;
  std::optional<shared::cache::CacheLock> m_lock; // empty: going without the cache
  // What open() found.
  shared::cache::ArtifactCache::State m_state = shared::cache::ArtifactCache::State::missing;
  std::string m_reason; // why (not) trusted
  std::size_t m_leftovers = 0;
  bool m_busy = false;   // the lock was not had in time
  std::string m_problem; // the cache could not be read
};

} // namespace tasks::download_artifact
