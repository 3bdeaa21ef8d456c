#include "shared/fs/part_file.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/write_loop.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace shared::fs {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The folder of a PartFile: opened for reading, so that it can be fsync'ed; a folder that may
// be written but not read is opened as a path only (its fsync then fails, which is ignored).
Descriptor open_folder(const std::string& path, const std::string& shown) {
  Descriptor folder(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!folder.valid() && errno == EACCES) {
    folder.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  if (!folder.valid()) {
    throw error::IoError(error::system_message("cannot create " + shown, errno));
  }
  return folder;
}

// The folder of `name` (a path relative to the folder open as `folder_fd`): a copy of
// `folder_fd` when `name` is a single name, else its parent folder opened beneath it.
Descriptor folder_of_name(int folder_fd, const std::string& name, const std::string& shown) {
  if (name.find('/') != std::string::npos) {
    Descriptor folder(
        ::openat(folder_fd, folder_of(name).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!folder.valid()) {
      throw error::IoError(error::system_message("cannot create " + shown, errno));
    }
    return folder;
  }
  if (folder_fd == AT_FDCWD) {
    return open_folder(".", shown);
  }
  Descriptor folder(::fcntl(folder_fd, F_DUPFD_CLOEXEC, 0));
  if (!folder.valid()) {
    throw error::IoError(error::system_message("cannot create " + shown, errno));
  }
  return folder;
}

} // namespace

int create_part(int folder_fd, const std::string& name, const std::string& shown) {
  constexpr int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(folder_fd, name.c_str(), flags, 0644);
  if (fd < 0 && errno == EEXIST) { // only then: the usual name is free, and unlinking costs
    ::unlinkat(folder_fd, name.c_str(), 0);
    fd = ::openat(folder_fd, name.c_str(), flags, 0644);
  }
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot create " + shown, errno));
  }
  return fd;
}

PartFile::PartFile(const std::string& final_path, Durability durability)
    : m_name(name_of(final_path)), m_part_name(m_name + std::string(k_part_suffix)),
      m_shown(final_path), m_part_shown(final_path + std::string(k_part_suffix)),
      m_durability(durability) {
  m_folder = open_folder(folder_of(final_path), m_part_shown);
  m_file.reset(create_part(m_folder.get(), m_part_name, m_part_shown));
}

PartFile::PartFile(int folder_fd, const std::string& name, std::string shown, Durability durability)
    : m_name(name_of(name)), m_part_name(m_name + std::string(k_part_suffix)),
      m_shown(std::move(shown)), m_part_shown(m_shown + std::string(k_part_suffix)),
      m_durability(durability) {
  m_folder = folder_of_name(folder_fd, name, m_part_shown);
  m_file.reset(create_part(m_folder.get(), m_part_name, m_part_shown));
}

PartFile::~PartFile() {
  discard();
}

void PartFile::write(const void* data, std::size_t size) {
  write_all(m_file.get(), static_cast<const char*>(data), size, m_part_shown);
}

void PartFile::commit() {
  if (!m_file.valid()) {
    throw error::IoError("cannot commit " + m_part_shown + ": already closed");
  }
  const bool flush = m_durability == Durability::flush;
  if (flush && ::fsync(m_file.get()) != 0) {
    const int saved = errno;
    discard();
    throw error::IoError(error::system_message("cannot flush " + m_part_shown, saved));
  }
  if (m_file.close() != 0) {
    const int saved = errno;
    ::unlinkat(m_folder.get(), m_part_name.c_str(), 0);
    throw error::IoError(error::system_message("cannot close " + m_part_shown, saved));
  }
  if (::renameat(m_folder.get(), m_part_name.c_str(), m_folder.get(), m_name.c_str()) != 0) {
    const int saved = errno;
    ::unlinkat(m_folder.get(), m_part_name.c_str(), 0);
    throw error::IoError(
        error::system_message("cannot rename " + m_part_shown + " to " + m_shown, saved));
  }
  if (flush) {
    ::fsync(m_folder.get()); // makes the rename durable; a failure loses nothing visible
  }
}

void PartFile::discard() noexcept {
  if (m_file.valid()) {
    m_file.reset();
    ::unlinkat(m_folder.get(), m_part_name.c_str(), 0);
  }
}

} // namespace shared::fs
