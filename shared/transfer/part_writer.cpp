#include "shared/transfer/part_writer.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/write_loop.hpp"

namespace shared::transfer {

PartWriter::PartWriter(int fd, std::uint64_t base, std::size_t k, std::uint64_t offset,
                       std::uint64_t length, FollowingHasher* hasher, progress::Reporter* progress,
                       const std::function<bool()>& cancelled)
    : m_fd(fd), m_base(base), m_k(k), m_offset(offset), m_length(length), m_hasher(hasher),
      m_progress(progress), m_cancelled(cancelled) {}

void PartWriter::write(const char* data, std::size_t size) {
  if (m_cancelled && m_cancelled()) {
    throw error::Interrupted();
  }
  if (m_written + size > m_length) {
    throw error::IntegrityError("the server sent more than the range asked for");
  }
  fs::pwrite_all(m_fd, data, size, m_base + m_offset + m_written, "the part file");
  m_written += size;
  if (m_hasher != nullptr) {
    m_hasher->wrote(m_k, m_written);
  }
  if (m_progress != nullptr) {
    m_progress->add_bytes(size);
  }
}

void PartWriter::restart() {
  if (m_progress != nullptr) {
    m_progress->remove_bytes(m_written);
  }
  m_written = 0;
  if (m_hasher != nullptr) {
    m_hasher->restarted(m_k);
  }
}

} // namespace shared::transfer
