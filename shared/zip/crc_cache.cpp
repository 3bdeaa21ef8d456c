#include "shared/zip/crc_cache.hpp"

namespace shared::zip {

std::optional<std::uint32_t> CrcCache::find(const std::string& path, std::uint64_t size,
                                            std::int64_t mtime_ns) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto it = m_map.find(path);
  if (it == m_map.end() || it->second.size != size || it->second.mtime_ns != mtime_ns) {
    return std::nullopt;
  }
  return it->second.crc;
}

void CrcCache::store(const std::string& path, std::uint64_t size, std::int64_t mtime_ns,
                     std::uint32_t crc) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_map.size() >= m_capacity && m_map.find(path) == m_map.end()) {
    m_map.clear();
  }
  m_map[path] = Value{size, mtime_ns, crc};
}

std::size_t CrcCache::size() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_map.size();
}

} // namespace shared::zip
