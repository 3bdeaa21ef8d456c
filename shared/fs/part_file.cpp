#include "shared/fs/part_file.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/write_loop.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace shared::fs {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

int create_part(int dir_fd, const std::string& name, const std::string& shown) {
  constexpr int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(dir_fd, name.c_str(), flags, 0644);
  if (fd < 0 && errno == EEXIST) { // only then: the usual name is free, and unlinking costs
    ::unlinkat(dir_fd, name.c_str(), 0);
    fd = ::openat(dir_fd, name.c_str(), flags, 0644);
  }
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot create " + shown, errno));
  }
  return fd;
}

PartFile::PartFile(std::string final_path)
    : m_final_path(std::move(final_path)), m_part_path(m_final_path + std::string(k_part_suffix)) {
  m_fd = create_part(AT_FDCWD, m_part_path, m_part_path);
}

PartFile::~PartFile() {
  discard();
}

void PartFile::write(const void* data, std::size_t size) {
  write_all(m_fd, static_cast<const char*>(data), size, m_part_path);
}

void PartFile::commit() {
  if (m_fd < 0) {
    throw error::IoError("cannot commit " + m_part_path + ": already closed");
  }
  if (::fsync(m_fd) != 0) {
    throw error::IoError(error::system_message("cannot flush " + m_part_path, errno));
  }
  const int fd = m_fd;
  m_fd = -1;
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(m_part_path.c_str());
    throw error::IoError(error::system_message("cannot close " + m_part_path, saved));
  }
  if (std::rename(m_part_path.c_str(), m_final_path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(m_part_path.c_str());
    throw error::IoError(
        error::system_message("cannot rename " + m_part_path + " to " + m_final_path, saved));
  }
  // Make the rename itself durable; a failure here loses nothing already visible.
  const int dir = ::open(parent_of(m_final_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void PartFile::discard() noexcept {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
    ::unlink(m_part_path.c_str());
  }
}

} // namespace shared::fs
