#include "shared/zip/io.hpp"

#include "shared/fs/open_beneath.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::zip {
namespace {

[[noreturn]] void throw_open_error(const std::string& path, int errnum) {
  switch (errnum) {
  case ELOOP:
    throw error::IoError("cannot open " + path +
                         ": it or one of its folders is a symlink, which is not followed");
  case EXDEV:
    throw error::IoError("cannot open " + path + ": it leaves its root folder");
  case ENOTDIR:
    throw error::IoError("cannot open " + path + ": one of its folders is a file");
  default:
    throw error::IoError(error::system_message("cannot open " + path, errnum));
  }
}

class LocalBodyReader : public BodyReader {
public:
  LocalBodyReader(fs::Descriptor file, std::uint64_t offset, std::string name)
      : m_file(std::move(file)), m_offset(offset), m_name(std::move(name)) {}

  std::size_t read(char* buffer, std::size_t size) override {
    for (;;) {
      const ssize_t n = ::pread(m_file.get(), buffer, size, static_cast<off_t>(m_offset));
      if (n >= 0) {
        m_offset += static_cast<std::uint64_t>(n);
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) {
        throw error::IoError(error::system_message("cannot read " + m_name, errno));
      }
    }
  }

  int file_descriptor() const override { return m_file.get(); }
  std::uint64_t file_offset() const override { return m_offset; }

private:
  fs::Descriptor m_file;
  std::uint64_t m_offset;
  std::string m_name;
};

// `path` beneath `root_fd`; an absolute path beneath "/" (still following no symlink).
// O_NONBLOCK: a FIFO is not waited on (it is refused after); O_NOATIME spares an inode write
// per file where allowed (the owner, or root).
fs::Descriptor open_no_link(int root_fd, const std::string& path) {
  std::string_view relative = path;
  fs::Descriptor top;
  if (!relative.empty() && relative.front() == '/') {
    top.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    root_fd = top.get();
    relative.remove_prefix(std::min(relative.find_first_not_of('/'), relative.size()));
  }
  constexpr int flags = O_RDONLY | O_NONBLOCK;
  fs::Descriptor file = fs::open_beneath(root_fd, relative, flags | O_NOATIME);
  if (!file.valid() && errno == EPERM) {
    file = fs::open_beneath(root_fd, relative, flags);
  }
  return file;
}

} // namespace

fs::Descriptor open_regular_file(int root_fd, const std::string& path, std::uint64_t* size) {
  fs::Descriptor file = open_no_link(root_fd, path);
  if (!file.valid()) {
    throw_open_error(path, errno);
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    throw error::IoError(error::system_message("cannot stat " + path, errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw error::IoError("cannot read " + path + ": not a regular file");
  }
  if (size != nullptr) {
    *size = static_cast<std::uint64_t>(st.st_size);
  }
  return file;
}

bool Sink::write_file(int, std::uint64_t, std::uint64_t) {
  throw std::logic_error("zip: Sink::write_file() called on a sink that does not accept files");
}

bool FdSink::write(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(m_fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EPIPE) {
        return false;
      }
      throw error::IoError(error::system_message("cannot write " + m_name, errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

LocalBodyProvider::LocalBodyProvider(const std::string& root)
    : m_root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (!m_root_fd.valid()) {
    throw error::IoError(error::system_message("cannot open folder " + root, errno));
  }
}

std::unique_ptr<BodyReader> LocalBodyProvider::open(const Entry& entry, std::uint64_t offset) {
  const std::string& path = entry.source_or_path();
  std::uint64_t size = 0;
  fs::Descriptor file = open_regular_file(m_root_fd.get(), path, &size);
  if (size != entry.size) {
    throw error::IntegrityError(path + ": " + std::to_string(size) + " bytes, listed with " +
                                std::to_string(entry.size) + " (it changed while being zipped)");
  }
  if (offset < size && size - offset > k_buffer_size) {
    ::posix_fadvise(file.get(), static_cast<off_t>(offset), 0, POSIX_FADV_SEQUENTIAL);
  }
  return std::make_unique<LocalBodyReader>(std::move(file), offset, path);
}

} // namespace shared::zip
