#include "shared/transfer/following_hasher.hpp"

#include "shared/error/error.hpp"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace shared::transfer {
namespace {

constexpr std::uint64_t k_step = 4u << 20; // bytes hashed at a time

} // namespace

FollowingHasher::FollowingHasher(int fd, std::uint64_t base, std::uint64_t size,
                                 const std::vector<Part>& parts)
    : m_fd(fd), m_base(base), m_size(size), m_parts(parts), m_written(parts.size(), 0),
      m_buffer(k_step) {}

void FollowingHasher::assume_hashed(const hash::Sha256& prefix, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(m_mutex);
  prefix.copy_to(m_sha256);
  m_claimed = bytes;
  for (std::size_t k = 0; k < m_parts.size() && m_parts[k].offset + m_parts[k].length <= bytes;
       ++k) {
    m_written[k] = m_parts[k].length;
  }
}

void FollowingHasher::wrote(std::size_t k, std::uint64_t written, const char* data,
                            std::size_t size) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_written[k] = written;
  if (m_busy || m_spoiled) {
    return;
  }
  const std::uint64_t end = frontier();
  if (end <= m_claimed) {
    return;
  }
  const std::uint64_t start = m_parts[k].offset + written - size;
  if (start == m_claimed && end == start + size) { // the step is this very buffer
    m_claimed = end;
    m_busy = true;
    lock.unlock();
    m_sha256.update(data, size);
    lock.lock();
    m_busy = false;
    return;
  }
  step(lock, end);
}

void FollowingHasher::restarted(std::size_t k) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_written[k] = 0;
  if (m_claimed > m_parts[k].offset) {
    m_spoiled = true;
  }
  m_low = std::min(m_low, k);
}

std::optional<hash::Digest> FollowingHasher::finish(const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_left = m_size - m_claimed;
  while (!m_spoiled && m_claimed < m_size) {
    if (cancelled && cancelled()) {
      throw error::Interrupted();
    }
    step(lock, frontier());
  }
  if (m_spoiled) {
    return std::nullopt;
  }
  return m_sha256.finish();
}

// Under m_mutex: the bytes from the body's start that are written.
std::uint64_t FollowingHasher::frontier() {
  const std::uint64_t parts = m_written.size();
  while (m_low < parts && m_written[m_low] == m_parts[m_low].length) {
    ++m_low;
  }
  return m_low < parts ? m_parts[m_low].offset + m_written[m_low] : m_size;
}

// Under m_mutex (held on return), the hash idle: reads and hashes the next step up to `end`.
void FollowingHasher::step(std::unique_lock<std::mutex>& lock, std::uint64_t end) {
  std::uint64_t at = m_claimed;
  const std::uint64_t to = std::min(end, at + k_step);
  m_claimed = to;
  m_busy = true;
  lock.unlock();
  bool failed = false;
  while (at < to) {
    const ssize_t n = ::pread(m_fd, m_buffer.data(), static_cast<std::size_t>(to - at),
                              static_cast<off_t>(m_base + at));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      failed = true; // the second pass reports the error
      break;
    }
    m_sha256.update(m_buffer.data(), static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  lock.lock();
  m_busy = false;
  m_spoiled = m_spoiled || failed;
}

} // namespace shared::transfer
