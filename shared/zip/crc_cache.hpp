// CRC-32s of files remembered by (path, size, mtime), so that a stored archive of files that
// did not change (a Layout needs every CRC before its first byte) is planned without reading
// them again. In memory only; shared by the threads of a service.
#pragma once

#include "shared/zip/entry.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace shared::zip {

/// A bounded map (path, size in bytes, mtime in ns) → CRC-32. Thread-safe.
class CrcCache {
public:
  /// Keeps at most `capacity` files; when full, it is emptied and starts over.
  explicit CrcCache(std::size_t capacity = 1'000'000) : m_capacity(capacity) {}

  /// The CRC-32 remembered for `path` (any stable name of the file, e.g. an absolute path)
  /// with this size and mtime, or nullopt.
  std::optional<std::uint32_t> find(const std::string& path, std::uint64_t size,
                                    std::int64_t mtime_ns) const;
  /// Remembers a CRC-32.
  void store(const std::string& path, std::uint64_t size, std::int64_t mtime_ns, std::uint32_t crc);

  /// Files remembered (for tests and logs).
  std::size_t size() const;

private:
  struct Value {
    std::uint64_t size;
    std::int64_t mtime_ns;
    std::uint32_t crc;
  };
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Value> m_map;
  std::size_t m_capacity;
};

} // namespace shared::zip
