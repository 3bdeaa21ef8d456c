// The lock between jobs that use one key's cache at the same time.
#pragma once

#include "shared/fs/descriptor.hpp"

#include <functional>
#include <string>

namespace shared::cache {

/// An advisory flock(2) on a key's lock file, "<key folder>.lock". Downloads hold it shared
/// while they read the cache; an update or an eviction holds it exclusive. The kernel drops it
/// when the process dies, so a killed job never leaves a cache locked. The lock file's
/// modification time is when the key was last used (what eviction orders by).
class CacheLock {
public:
  enum class Kind { shared, exclusive };

  /// Opens (creating it and its folder) the lock file at `path` (absolute, or relative to the
  /// working directory). Throws error::IoError. Closing it releases the lock.
  explicit CacheLock(const std::string& path);

  /// Acquires the lock, waiting at most `timeout` seconds (0: one try). Returns false when it
  /// is still held by another job then. Switching kind releases the lock first, so another
  /// job may go in between. `cancelled` is polled; true throws error::Interrupted. Throws
  /// error::IoError when flock(2) fails otherwise.
  bool acquire(Kind kind, double timeout, const std::function<bool()>& cancelled = {});

  /// Releases the lock (also done by the destructor).
  void release();

  /// Records "used now" (the lock file's modification time) for least-recently-used eviction.
  void touch();

  /// The lock file.
  const std::string& path() const { return m_path; }

private:
  std::string m_path;
  fs::Descriptor m_file;
  int m_held = 0; // LOCK_SH, LOCK_EX or 0
};

} // namespace shared::cache
