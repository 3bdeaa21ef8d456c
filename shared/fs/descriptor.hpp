// Owning a file descriptor (POSIX open(2)): closed when it goes out of scope.
#pragma once

#include <unistd.h>

namespace shared::fs {

/// An owned file descriptor, closed (if >= 0) when destroyed. Movable, not copyable: a moved-
/// from Descriptor holds -1.
class Descriptor {
public:
  explicit Descriptor(int fd = -1) noexcept : m_fd(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& other) noexcept : m_fd(other.release()) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }

  /// The descriptor, or -1.
  int get() const noexcept { return m_fd; }

  /// Whether it holds a descriptor (>= 0).
  bool valid() const noexcept { return m_fd >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership: returns the descriptor (or -1), which the caller must close.
  int release() noexcept {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }

  /// Closes now; returns what close(2) returned (-1 with errno: e.g. a failed write-back, or
  /// EBADF when nothing was held).
  int close() noexcept { return ::close(release()); }

  /// Closes the descriptor held (errors ignored) and holds `fd` instead.
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd;
};

} // namespace shared::fs
