// Owning a file descriptor (POSIX open(2)): closed when it goes out of scope.
#pragma once

#include <unistd.h>

namespace shared::fs {

/// Closes the descriptor it holds (if >= 0) when destroyed. Not copyable.
class Descriptor {
public:
  explicit Descriptor(int fd = -1) : m_fd(fd) {}
  ~Descriptor() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  /// The descriptor, or -1.
  int get() const { return m_fd; }

  /// Closes now; returns what close(2) returned (-1 with errno: e.g. a failed write-back).
  int close() {
    const int fd = m_fd;
    m_fd = -1;
    return ::close(fd);
  }

  /// Closes the descriptor held and takes `fd`.
  void reset(int fd) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd;
};

} // namespace shared::fs
