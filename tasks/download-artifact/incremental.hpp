// The incremental side of download-artifact (seed 002): the key's lock, the cache lending its
// files to the download, the update afterwards and the size limit.
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
  std::string directory; ///< holds ArtifactEngineCache/
  std::string key;       ///< empty: the source's own key
  shared::cache::ArtifactCache::Link link = shared::cache::ArtifactCache::Link::hardlink;
  bool hash_every_file = false; ///< cacheValidation: hash
  std::uint64_t max_size = 0;   ///< bytes over all keys; 0: no limit
  double lock_timeout = 120;    ///< seconds
};

/// One run's use of one key's cache. Problems with the cache are warnings: the download goes
/// on without it. Only SIGINT (error::Interrupted) escapes.
class IncrementalCache : private shared::transfer::LocalCopies {
public:
  /// `options.key` must be set (the input, else the source's key).
  IncrementalCache(const CacheOptions& options, shared::log::Logger& logger,
                   std::function<bool()> cancelled);

  /// Takes the key's lock shared (waiting up to the timeout, or until `give_up` returns true)
  /// and reads the cache. Logs nothing, so that it can run while the source is listed; throws
  /// only error::Interrupted (SIGINT).
  void open(const std::function<bool()>& give_up);

  /// After open(): takes the lock if open() did not need it, says what it found and, when the
  /// cache is trusted, lets `download` take files from it (and marks the key used, for
  /// eviction). Throws only error::Interrupted.
  void lend(shared::transfer::DownloadOptions& download);

  /// After a download without failures: takes the lock exclusive, replaces the cache with the
  /// `entries` found in `destination` (taking a new content only from a file whose fingerprint
  /// is still its `checked` one, one per entry: see DownloadSummary::checked) and keeps all
  /// caches under the size limit.
  void update(const std::string& destination, const std::vector<shared::metadata::Entry>& entries,
              const std::vector<std::optional<shared::fs::Fingerprint>>& checked);

private:
  bool has(const shared::hash::Digest& sha256) const override;
  std::optional<shared::transfer::LocalCopy> find(const shared::source::Item& item) const override;
  void failed(const shared::transfer::LocalCopy& copy) override;
  std::optional<std::uint64_t> size_hint(const shared::source::Item& item) const override;
  std::optional<std::uint64_t> device() const override;
  void evict(); // keeps all keys under max_size; logs what it did
  // Takes the key's lock shared, waiting up to the timeout or until `stop`; false (m_busy)
  // when it did not get it. Throws error::Interrupted when `stop` is SIGINT.
  bool take_lock(const std::function<bool()>& stop);

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
