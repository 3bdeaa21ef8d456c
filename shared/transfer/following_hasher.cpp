#include "shared/transfer/following_hasher.hpp"

#include "shared/error/error.hpp"
#include "shared/hash/file_hasher.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sys/mman.h>
#include <unistd.h>

namespace shared::transfer {
namespace {

constexpr std::uint64_t k_step = 4u << 20; // bytes hashed at a time
constexpr auto k_poll = std::chrono::milliseconds(50);

} // namespace

FollowingHasher::FollowingHasher(int fd, std::uint64_t base, std::uint64_t size,
                                 const std::vector<Part>& parts,
                                 const std::function<bool()>& cancelled)
    : m_fd(fd), m_base(base), m_size(size), m_parts(parts), m_cancelled(cancelled),
      m_written(parts.size(), 0) {
  try {
    m_thread = std::thread([this] { follow(); });
  } catch (const std::system_error& e) {
    throw error::IoError(std::string("cannot start the SHA-256 thread: ") + e.what());
  }
}

FollowingHasher::~FollowingHasher() {
  abandon();
  m_thread.join();
}

void FollowingHasher::assume_hashed(const hash::Sha256& prefix, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(m_mutex);
  prefix.copy_to(m_sha256); // the thread is idle: nothing is written yet
  m_claimed = bytes;
  for (std::size_t k = 0; k < m_parts.size() && m_parts[k].offset + m_parts[k].length <= bytes;
       ++k) {
    m_written[k] = m_parts[k].length;
  }
}

void FollowingHasher::wrote(std::size_t k, std::uint64_t written) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_written[k] = written;
  if (m_idle && frontier() > m_claimed) {
    m_idle = false;
    m_work.notify_one();
  }
  const std::uint64_t at = m_parts[k].offset + written;
  while (!m_spoiled && at > m_claimed + k_window) {
    if (cancelled()) {
      throw error::Interrupted();
    }
    m_hashed.wait_for(lock, k_poll);
  }
}

bool FollowingHasher::ahead(std::uint64_t end) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return !m_spoiled && end > m_claimed + k_window;
}

void FollowingHasher::restarted(std::size_t k) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_written[k] = 0;
  if (m_claimed > m_parts[k].offset) {
    m_spoiled = true;
    m_work.notify_one();
    m_hashed.notify_all();
  }
  m_low = std::min(m_low, k);
}

void FollowingHasher::abandon() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_spoiled = true;
  m_work.notify_one();
  m_hashed.notify_all();
}

std::optional<hash::Digest> FollowingHasher::finish() {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_left = m_size - m_claimed;
  while (!m_done) {
    if (cancelled()) {
      throw error::Interrupted();
    }
    m_hashed.wait_for(lock, k_poll);
  }
  if (m_spoiled || m_claimed != m_size) {
    return std::nullopt;
  }
  return m_sha256.finish();
}

hash::Digest FollowingHasher::finish_or_read_again(const std::string& shown) {
  if (const std::optional<hash::Digest> digest = finish()) {
    return *digest;
  }
  m_read_again = true;
  if (::lseek(m_fd, static_cast<off_t>(m_base), SEEK_SET) < 0) {
    throw error::IoError(error::system_message("cannot read " + shown, errno));
  }
  hash::FileHasher hasher;
  return hasher
      .hash_fd(m_fd, shown,
               [this](std::size_t) {
                 if (cancelled()) {
                   throw error::Interrupted();
                 }
               })
      .sha256;
}

// Under m_mutex: the bytes from the body's start that are written.
std::uint64_t FollowingHasher::frontier() {
  const std::uint64_t parts = m_written.size();
  while (m_low < parts && m_written[m_low] == m_parts[m_low].length) {
    ++m_low;
  }
  return m_low < parts ? m_parts[m_low].offset + m_written[m_low] : m_size;
}

// The thread: hashes the written prefix step by step until the whole body is hashed or the
// digest is spoiled.
void FollowingHasher::follow() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_spoiled && m_claimed < m_size) {
    const std::uint64_t end = frontier();
    if (end <= m_claimed) {
      m_idle = true;
      m_work.wait(lock, [this] { return !m_idle || m_spoiled; });
      continue;
    }
    const std::uint64_t from = m_claimed;
    m_claimed = std::min(end, from + k_step);
    const std::uint64_t to = m_claimed;
    lock.unlock();
    const bool read = hash_range(from, to);
    lock.lock();
    m_spoiled = m_spoiled || !read;
    m_hashed.notify_all();
  }
  m_done = true;
  m_hashed.notify_all();
}

// Without the lock: feeds bytes [from, to) of the body to the digest, mapped from the file
// (no copy; the pages were just written, so they are in the page cache). False when they
// cannot be mapped: the second pass reports the error.
bool FollowingHasher::hash_range(std::uint64_t from, std::uint64_t to) {
  static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = m_base + from;
  const std::uint64_t aligned = start - start % page;
  const std::size_t length = static_cast<std::size_t>(m_base + to - aligned);
  void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED | MAP_POPULATE, m_fd,
                     static_cast<off_t>(aligned));
  if (map == MAP_FAILED) {
    return false;
  }
  m_sha256.update(static_cast<const char*>(map) + (start - aligned),
                  static_cast<std::size_t>(to - from));
  ::munmap(map, length);
  return true;
}

} // namespace shared::transfer
