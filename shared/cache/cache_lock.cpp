#include "shared/cache/cache_lock.hpp"

#include "shared/error/error.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace shared::cache {

CacheLock::CacheLock(const std::string& path) : m_path(path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  m_file.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (m_file.get() < 0) {
    throw error::IoError(error::system_message("cannot open the cache lock " + path, errno));
  }
}

bool CacheLock::acquire(Kind kind, double timeout, const std::function<bool()>& cancelled) {
  const int wanted = kind == Kind::shared ? LOCK_SH : LOCK_EX;
  if (m_held == wanted) {
    return true;
  }
  release(); // flock(2) may drop a held lock while converting it anyway: say so plainly
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    if (::flock(m_file.get(), wanted | LOCK_NB) == 0) {
      m_held = wanted;
      return true;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
      throw error::IoError(error::system_message("cannot lock " + m_path, errno));
    }
    if (cancelled && cancelled()) {
      throw error::Interrupted();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

void CacheLock::release() {
  if (m_held != 0) {
    ::flock(m_file.get(), LOCK_UN);
    m_held = 0;
  }
}

void CacheLock::touch() {
  ::futimens(m_file.get(), nullptr);
}

} // namespace shared::cache
