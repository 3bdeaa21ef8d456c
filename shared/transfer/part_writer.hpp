// Writing one part of a body at its offset in a file, as several workers do at once for the
// parts of one file (HTTP Range requests, RFC 9110 §14).
#pragma once

#include "shared/http/client.hpp"
#include "shared/progress/progress.hpp"
#include "shared/transfer/following_hasher.hpp"

#include <cstdint>
#include <functional>

namespace shared::transfer {

/// A body sink that writes part `k` ([offset, offset + length) of a body starting at byte
/// `base` of the file `fd`) with pwrite(2), tells `hasher` (may be null) what it holds, and
/// counts bytes in `progress` (may be null). Throws error::Interrupted within one buffer of
/// `cancelled` returning true, error::IntegrityError when more than `length` bytes come, and
/// error::IoError when a write fails.
class PartWriter : public http::BodySink {
public:
  PartWriter(int fd, std::uint64_t base, std::size_t k, std::uint64_t offset, std::uint64_t length,
             FollowingHasher* hasher, progress::Reporter* progress,
             const std::function<bool()>& cancelled);

  void write(const char* data, std::size_t size) override;
  void restart() override;

  /// Bytes of the part written so far.
  std::uint64_t written() const { return m_written; }

protected:
  std::uint64_t offset() const { return m_offset; }
  std::uint64_t length() const { return m_length; }

private:
  int m_fd;
  std::uint64_t m_base;
  std::size_t m_k;
  std::uint64_t m_offset;
  std::uint64_t m_length;
  FollowingHasher* m_hasher;
  progress::Reporter* m_progress;
  const std::function<bool()>& m_cancelled;
  std::uint64_t m_written = 0;
};

} // namespace shared::transfer
