#include "shared/fs/read_loop.hpp"

#include "shared/error/error.hpp"

#include <cerrno>
#include <unistd.h>

namespace shared::fs {

std::size_t read_to_end(int fd, char* buffer, std::size_t size, const std::string& name,
                        const std::function<void(const char* data, std::size_t size)>& consume) {
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, size);
    if (n == 0) {
      return total;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw error::IoError(error::system_message("cannot read " + name, errno));
    }
    total += static_cast<std::size_t>(n);
    consume(buffer, static_cast<std::size_t>(n));
  }
}

} // namespace shared::fs
