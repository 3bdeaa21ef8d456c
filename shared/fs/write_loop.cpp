#include "shared/fs/write_loop.hpp"

#include "shared/error/error.hpp"

#include <cerrno>
#include <unistd.h>

namespace shared::fs {

void write_all(int fd, const char* data, std::size_t size, const std::string& name) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw error::IoError(error::system_message("cannot write " + name, errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset,
                const std::string& name) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw error::IoError(error::system_message("cannot write " + name, errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

} // namespace shared::fs
