// The SHA-256 of a file written in parts by several workers at once, computed in order while
// the parts are still arriving (FIPS 180-4 is sequential: one digest, byte after byte).
#pragma once

#include "shared/hash/sha256.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace shared::transfer {

/// One part of a body: bytes [offset, offset + length) from the body's start.
struct Part {
  std::uint64_t offset = 0; ///< bytes
  std::uint64_t length = 0; ///< bytes
};

/// Hashes the body in order while its parts arrive, so that the SHA-256 costs no second pass
/// after the last part. A thread of its own follows the contiguous prefix that is written (the
/// finished parts, then the lowest unfinished part up to what it has written; each part is
/// written from its first byte on), reading it back from the file (the page cache, mapped) in
/// steps of up to 4 MiB.
///
/// Writers that run too far ahead wait: wrote() returns only once the writer's position is at
/// most `window()` bytes (32 MiB) past the hashed point. Where the network is faster than one
/// core's SHA-256 this keeps the lowest parts first and the hash busy all along, leaving at
/// most the window to hash after the last part (instead of most of the body); where the
/// network is slower the window is never reached. Bytes hashed that are then written again (a
/// part restarted by a retry) make the digest worthless: it is "spoiled", the window opens, and
/// the body is read again (finish_or_read_again). Thread-safe.
class FollowingHasher {
  static constexpr std::uint64_t k_window = 32u << 20; // bytes

public:
  /// `fd`: the file, open for reading; the body of `size` bytes starts at byte `base` of it.
  /// `parts` cover the body in order and must outlive the hasher. Writers waiting for the
  /// window throw error::Interrupted within 50 ms of `cancelled` (may be empty) returning true;
  /// it must outlive the hasher. Throws error::IoError when the thread cannot start.
  FollowingHasher(int fd, std::uint64_t base, std::uint64_t size, const std::vector<Part>& parts,
                  const std::function<bool()>& cancelled);
  ~FollowingHasher();
  FollowingHasher(const FollowingHasher&) = delete;
  FollowingHasher& operator=(const FollowingHasher&) = delete;

  /// Takes `prefix` as the digest state of the body's first `bytes` bytes (already hashed
  /// elsewhere, e.g. while a first part streamed), which must be whole parts. Call before any
  /// wrote().
  void assume_hashed(const hash::Sha256& prefix, std::uint64_t bytes);

  /// Part `k` now holds its first `written` bytes. Waits while that is more than window()
  /// bytes past the hashed point (see the class comment); throws error::Interrupted.
  void wrote(std::size_t k, std::uint64_t written);

  /// Whether a writer reaching `end` bytes into the body would wait now (see wrote()).
  bool ahead(std::uint64_t end) const;

  /// Part `k` will be written again from its first byte.
  void restarted(std::size_t k);

  /// The body will not be completed (a part failed for good): stops hashing and releases the
  /// writers waiting for the window. finish() then returns nullopt.
  void abandon();

  /// Once every part is written (no writer left): waits for the hash of what is left. The
  /// body's digest, or nullopt when it was spoiled or abandoned (or could not be read): then
  /// hash the file again. Throws error::Interrupted when `cancelled` returns true.
  std::optional<hash::Digest> finish();

  /// As finish(), but when the digest was spoiled (or the file could not be mapped), reads the
  /// body again from the file to compute it (read_again() then says so). `shown` names the file
  /// in errors. Throws error::Interrupted and error::IoError.
  hash::Digest finish_or_read_again(const std::string& shown);

  /// Whether finish_or_read_again() had to read the body again.
  bool read_again() const { return m_read_again; }

  /// Bytes not hashed yet when finish() was called.
  std::uint64_t left() const { return m_left; }

  /// Bytes a writer may be ahead of the hashed point: 32 MiB.
  static constexpr std::uint64_t window() { return k_window; }

private:
  std::uint64_t frontier();
  void follow();
  bool hash_range(std::uint64_t from, std::uint64_t to);
  bool cancelled() const { return m_cancelled && m_cancelled(); }

  int m_fd;
  std::uint64_t m_base;
  std::uint64_t m_size;
  const std::vector<Part>& m_parts;
  const std::function<bool()>& m_cancelled;
  mutable std::mutex m_mutex;           // guards everything below but m_sha256 (the thread's)
  std::condition_variable m_work;       // the thread waits for the frontier to move
  std::condition_variable m_hashed;     // writers and finish() wait for the hash to move
  std::vector<std::uint64_t> m_written; // bytes written of each part
  std::size_t m_low = 0;                // parts below are complete
  std::uint64_t m_claimed = 0;          // bytes hashed or being hashed
  std::uint64_t m_left = 0;
  bool m_idle = false;    // the thread waits on m_work
  bool m_spoiled = false; // spoiled, abandoned or unreadable: the thread stops
  bool m_done = false;    // the thread has stopped
  bool m_read_again = false;
  hash::Sha256 m_sha256;
  std::thread m_thread;
};

} // namespace shared::transfer
