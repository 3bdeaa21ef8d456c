#include "shared/hash/file_hasher.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/read_loop.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace shared::hash {
namespace {

fs::Descriptor open_for_reading(const std::string& path) {
  // O_NOATIME spares an inode write per file; only the owner (or root) may use it.
  fs::Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME));
  if (!file.valid() && errno == EPERM) {
    file.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  return file;
}

} // namespace

FileHasher::FileHasher() : m_buffer(new char[k_buffer_size]) {}

FileHash FileHasher::hash_file(const std::string& path, const OnRead& on_read) {
  const fs::Descriptor file = open_for_reading(path);
  if (!file.valid()) {
    throw error::IoError(error::system_message("cannot open " + path, errno));
  }
  return hash_fd(file.get(), path, on_read);
}

FileHash FileHasher::hash_fd(int fd, const std::string& name, const OnRead& on_read) {
  bool first = true;
  try {
    const std::uint64_t size = fs::read_to_end(fd, m_buffer.get(), k_buffer_size, name,
                                               [&](const char* data, std::size_t n) {
                                                 if (first && n == k_buffer_size) {
                                                   // More than one read: a bigger readahead window
                                                   // helps.
                                                   ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
                                                 }
                                                 first = false;
                                                 m_sha256.update(data, n);
                                                 if (on_read) {
                                                   on_read(n);
                                                 }
                                               });
    return FileHash{m_sha256.finish(), size};
  } catch (...) {
    m_sha256.finish(); // leave the hasher clean for the next file
    throw;
  }
}

} // namespace shared::hash
