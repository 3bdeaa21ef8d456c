// The SHA-256 of a file written in parts by several workers at once, computed in order while
// the parts are still arriving (FIPS 180-4 is sequential: one digest, byte after byte).
#pragma once

#include "shared/hash/sha256.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace shared::transfer {

/// One part of a body: bytes [offset, offset + length) from the body's start.
struct Part {
  std::uint64_t offset = 0; ///< bytes
  std::uint64_t length = 0; ///< bytes
};

/// Hashes the body in order while its parts arrive, so that the SHA-256 costs no second pass
/// after the last part. The writers call wrote() after each write: the one that finds the
/// hash idle takes the next step (up to 4 MiB) of the contiguous prefix that is written (the
/// finished parts, then the lowest unfinished part up to what it has written; each part is
/// written from its first byte on), hashing its own buffer when that is the step, else reading
/// the step back from the file (the page cache). Hashing thus gets the writers' share of the
/// CPU, not one thread's. Bytes hashed that are then written again (a part restarted by a
/// retry) make the digest worthless: it is "spoiled", and the caller hashes the file again.
/// Thread-safe.
class FollowingHasher {
public:
  /// `fd`: the file, open for reading; the body of `size` bytes starts at byte `base` of it.
  /// `parts` cover the body in order and must outlive the hasher.
  FollowingHasher(int fd, std::uint64_t base, std::uint64_t size, const std::vector<Part>& parts);

  /// Takes `prefix` as the digest state of the body's first `bytes` bytes (already hashed
  /// elsewhere, e.g. while a first part streamed). Call before any wrote().
  void assume_hashed(const hash::Sha256& prefix, std::uint64_t bytes);

  /// Part `k` now holds its first `written` bytes, the last `size` of them `data`; hashes a
  /// step if the hash is idle and behind.
  void wrote(std::size_t k, std::uint64_t written, const char* data, std::size_t size);

  /// Part `k` will be written again from its first byte.
  void restarted(std::size_t k);

  /// Once every part is written (no writer left): hashes what is left. The body's digest, or
  /// nullopt when it was spoiled (or could not be read): then hash the file again. Throws
  /// error::Interrupted when `cancelled` returns true.
  std::optional<hash::Digest> finish(const std::function<bool()>& cancelled);

  /// Bytes not hashed yet when finish() was called.
  std::uint64_t left() const { return m_left; }

private:
  std::uint64_t frontier();
  void step(std::unique_lock<std::mutex>& lock, std::uint64_t end);

  int m_fd;
  std::uint64_t m_base;
  std::uint64_t m_size;
  const std::vector<Part>& m_parts;
  std::mutex m_mutex; // guards everything below; the hashing itself runs outside it (m_busy)
  std::vector<std::uint64_t> m_written; // bytes written of each part
  std::size_t m_low = 0;                // parts below are complete
  std::uint64_t m_claimed = 0;          // bytes hashed or being hashed
  std::uint64_t m_left = 0;
  bool m_busy = false; // someone is hashing: m_sha256 and m_buffer are theirs
  bool m_spoiled = false;
  hash::Sha256 m_sha256;
  std::vector<char> m_buffer;
};

} // namespace shared::transfer
