#include "shared/hash/file_hasher.hpp"

#include "shared/error/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace shared::hash {
namespace {

int open_for_reading(const std::string& path) {
  // O_NOATIME spares an inode write per file; only the owner (or root) may use it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return fd;
}

} // namespace

FileHasher::FileHasher() : m_buffer(new char[k_buffer_size]) {}

FileHash FileHasher::hash_file(const std::string& path, const OnRead& on_read) {
  const int fd = open_for_reading(path);
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot open " + path, errno));
  }
  try {
    FileHash result = hash_fd(fd, path, on_read);
    ::close(fd);
    return result;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

FileHash FileHasher::hash_fd(int fd, const std::string& name, const OnRead& on_read) {
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd, m_buffer.get(), k_buffer_size);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      m_sha256.finish(); // leave the hasher clean for the next file
      throw error::IoError(error::system_message("cannot read " + name, saved));
    }
    if (size == 0 && static_cast<std::size_t>(n) == k_buffer_size) {
      // Larger than one read: ask for a bigger readahead window. Small files skip the call.
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    m_sha256.update(m_buffer.get(), static_cast<std::size_t>(n));
    size += static_cast<std::uint64_t>(n);
    if (on_read) {
      try {
        on_read(static_cast<std::size_t>(n));
      } catch (...) {
        m_sha256.finish();
        throw;
      }
    }
  }
  return FileHash{m_sha256.finish(), size};
}

} // namespace shared::hash
