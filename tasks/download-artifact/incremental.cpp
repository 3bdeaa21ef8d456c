#include "tasks/download-artifact/incremental.hpp"

#include "shared/cache/eviction.hpp"
#include "shared/format/units.hpp"

#include <filesystem>
#include <utility>

namespace tasks::download_artifact {

namespace format = shared::format;
using shared::cache::ArtifactCache;
using shared::cache::CacheLock;

IncrementalCache::IncrementalCache(const CacheOptions& options, shared::log::Logger& logger,
                                   std::function<bool()> cancelled)
    : m_options(options), m_cache(options.folder, options.key), m_logger(logger),
      m_cancelled(std::move(cancelled)) {}

void IncrementalCache::open(const std::function<bool()>& give_up) {
  const auto stop = [this, &give_up] { return (m_cancelled && m_cancelled()) || give_up(); };
  try {
    // No folder for the key: nothing to read, and nothing is created (the lock file neither)
    // until offer_local_copies() knows the cache will be used.
    if (std::error_code ec; std::filesystem::exists(m_cache.path(), ec)) {
      if (!acquire_shared_lock(stop)) {
        return;
      }
      m_leftovers = m_cache.leftovers().size();
    }
    m_state = m_cache.open(m_reason);
  } catch (const shared::error::Interrupted&) {
    m_lock.reset();
    if (m_cancelled && m_cancelled()) {
      throw;
    }
    m_problem = "the listing failed"; // give_up() ended the wait: nobody will use the cache
  } catch (const std::exception& e) {
    m_lock.reset();
    m_problem = e.what();
  }
}

void IncrementalCache::offer_local_copies(shared::transfer::DownloadOptions& download) {
  try {
    if (m_problem.empty() && !m_busy && !m_lock) {
      acquire_shared_lock(m_cancelled);
    }
    if (m_lock) {
      m_lock->touch();
    }
  } catch (const shared::error::Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    m_lock.reset();
    m_problem = e.what();
  }
  if (!m_problem.empty()) {
    m_logger.warning("cache not used: " + m_problem);
    return;
  }
  if (m_busy) {
    m_logger.warning("cache " + m_cache.path() + " is being updated by another job (waited " +
                     format::duration(m_options.lock_timeout) +
                     "): downloading without the cache, which is left as it is");
    return;
  }
  if (m_leftovers != 0) {
    m_logger.info("Cache: " + format::count(m_leftovers) +
                  " leftover(s) of an interrupted update or eviction (removed when it is "
                  "updated)");
  }
  if (m_state != ArtifactCache::State::trusted) {
    m_logger.info("Cache: " + m_cache.path() + " not used: " + m_reason);
    return;
  }
  m_logger.info("Cache: " + m_cache.path() + " (trusted, " + m_reason + ")");
  download.hash_local_copies = m_options.hash_every_file;
  download.link_local_copies = m_options.link == ArtifactCache::Link::hardlink;
  download.local_copies = this;
}

bool IncrementalCache::acquire_shared_lock(const std::function<bool()>& stop) {
  m_lock.emplace(m_cache.lock_path());
  if (!m_lock->acquire(CacheLock::Kind::shared, m_options.lock_timeout, stop)) {
    m_lock.reset();
    m_busy = true;
    return false;
  }
  return true;
}

bool IncrementalCache::has(const shared::hash::Digest& sha256) const {
  return m_cache.has(sha256);
}

std::optional<shared::transfer::LocalCopy>
IncrementalCache::find(const shared::source::Item& item) const {
  if (auto file = m_cache.find(*item.sha256)) {
    shared::transfer::LocalCopy copy;
    copy.path = std::move(file->path);
    copy.unchanged = file->unchanged;
    copy.size = file->size;
    copy.device = file->device;
    copy.inode = file->inode;
    copy.folder_fd = file->folder_fd; // open as long as the cache
    copy.name = std::move(file->name);
    return copy;
  }
  return std::nullopt;
}

void IncrementalCache::failed(const shared::transfer::LocalCopy& copy) {
  m_cache.reject(copy.path);
}

std::optional<std::uint64_t> IncrementalCache::size_hint(const shared::source::Item& item) const {
  return m_cache.size_at(item.path);
}

void IncrementalCache::update(const std::string& destination,
                              const std::vector<shared::metadata::Entry>& entries,
                              const std::vector<std::optional<shared::fs::Fingerprint>>& checked) {
  if (!m_lock) {
    return;
  }
  if (!m_lock->acquire(CacheLock::Kind::exclusive, m_options.lock_timeout, m_cancelled)) {
    m_logger.warning("cache " + m_cache.path() + " is in use by another job (waited " +
                     format::duration(m_options.lock_timeout) + "): not updated");
    return;
  }
  try {
    const std::size_t files = m_cache.update(destination, entries, m_options.link, &checked);
    m_logger.info("Cache updated: " + m_cache.path() + " (" + format::count(files) + " files)");
  } catch (const std::exception& e) {
    m_logger.warning("cache " + m_cache.path() +
                     " not updated (the download itself is complete): " + e.what());
    return;
  }
  if (m_options.max_size != 0) {
    try {
      evict();
    } catch (const std::exception& e) {
      m_logger.warning(std::string("cache eviction stopped: ") + e.what());
    }
  }
}

void IncrementalCache::evict() {
  const auto eviction = shared::cache::evict_least_recently_used(
      m_options.folder, m_options.max_size, m_cache.path());
  if (!eviction.evicted.empty()) {
    m_logger.info("Cache over cacheMaxSize " + format::bytes(m_options.max_size) + " (" +
                  format::bytes(eviction.bytes_before) + "): evicted " +
                  format::count(eviction.evicted.size()) + " least recently used key(s), " +
                  format::bytes(eviction.bytes_after) + " left");
  }
  for (const auto& folder : eviction.evicted) {
    if (folder == m_cache.path()) {
      m_logger.warning("this key's cache alone is larger than cacheMaxSize (" +
                       format::bytes(m_options.max_size) + "): not kept");
    }
  }
  if (eviction.bytes_after > m_options.max_size && !eviction.busy.empty()) {
    m_logger.warning("cache still over cacheMaxSize: " + format::count(eviction.busy.size()) +
                     " key(s) in use by other jobs were not evicted");
  }
}

} // namespace tasks::download_artifact
