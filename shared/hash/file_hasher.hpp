// Hashing whole files with large reads into one reused buffer.
#pragma once

#include "shared/hash/sha256.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace shared::hash {

/// The SHA-256 of a file's content and its size in bytes.
struct FileHash {
  Digest sha256;
  std::uint64_t size;
};

/// Hashes files one at a time. Owns a read buffer of k_buffer_size bytes and a Sha256, so
/// memory does not grow with file size. Not thread-safe: one per worker.
class FileHasher {
public:
  /// Bytes per read(2). Large enough that syscalls cost little, small enough to stay in L2.
  static constexpr std::size_t k_buffer_size = 256 * 1024;

  FileHasher();

  /// Called after each read with its size in bytes; may throw to stop (e.g. on SIGINT).
  using OnRead = std::function<void(std::size_t bytes)>;

  /// Hashes the file at `path` (absolute or relative to the working directory); symlinks
  /// are followed. Throws error::IoError naming the path when it cannot be opened or read,
  /// and whatever `on_read` throws.
  FileHash hash_file(const std::string& path, const OnRead& on_read = {});

  /// Hashes what remains of an open descriptor, reading to end of file. `name` is used in
  /// error messages. Throws as hash_file.
  FileHash hash_fd(int fd, const std::string& name, const OnRead& on_read = {});

private:
  Sha256 m_sha256;
  std::unique_ptr<char[]> m_buffer;
};

} // namespace shared::hash
