#include "shared/zip/io.hpp"

#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::zip {
namespace {

[[noreturn]] void throw_open_error(const std::string& path, int errnum) {
  if (errnum == ELOOP) {
    throw error::IoError("cannot open " + path + ": it is a symlink, which is not followed");
  }
  if (errnum == ENOTDIR) {
    throw error::IoError("cannot open " + path +
                         ": one of its folders is a file or a symlink, which is not followed");
  }
  throw error::IoError(error::system_message("cannot open " + path, errnum));
}

class LocalBodyReader : public BodyReader {
public:
  LocalBodyReader(int fd, std::uint64_t offset, std::string name)
      : m_fd(fd), m_offset(offset), m_name(std::move(name)) {}
  ~LocalBodyReader() override { ::close(m_fd); }
  LocalBodyReader(const LocalBodyReader&) = delete;
  LocalBodyReader& operator=(const LocalBodyReader&) = delete;

  std::size_t read(char* buffer, std::size_t size) override {
    for (;;) {
      const ssize_t n = ::pread(m_fd, buffer, size, static_cast<off_t>(m_offset));
      if (n >= 0) {
        m_offset += static_cast<std::uint64_t>(n);
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) {
        throw error::IoError(error::system_message("cannot read " + m_name, errno));
      }
    }
  }

  int file_descriptor() const override { return m_fd; }
  std::uint64_t file_offset() const override { return m_offset; }

private:
  int m_fd;
  std::uint64_t m_offset;
  std::string m_name;
};

int open_beneath_sized(int root_fd, const std::string& path, std::uint64_t* size) {
  int dir = root_fd;
  bool own_dir = false;
  const auto close_dir = [&] {
    if (own_dir) {
      ::close(dir);
    }
  };
  std::size_t start = 0;
  if (!path.empty() && path.front() == '/') {
    dir = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      throw_open_error(path, errno);
    }
    own_dir = true;
    start = 1;
  }
  for (;;) {
    std::size_t end = path.find('/', start);
    const bool last = end == std::string::npos;
    if (last) {
      end = path.size();
    }
    const std::string segment = path.substr(start, end - start);
    start = end + 1;
    if (segment == "..") {
      close_dir();
      throw error::IoError("cannot open " + path + ": it leaves its root folder");
    }
    if (!last && (segment.empty() || segment == ".")) {
      continue;
    }
    if (!last) {
      const int next =
          ::openat(dir, segment.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      const int errnum = errno;
      close_dir();
      if (next < 0) {
        throw_open_error(path, errnum);
      }
      dir = next;
      own_dir = true;
      continue;
    }
    // O_NONBLOCK: a FIFO is not waited on (it is refused below); O_NOATIME spares an inode
    // write per file where allowed (the owner, or root).
    const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    const char* name = segment.empty() ? "." : segment.c_str();
    int fd = ::openat(dir, name, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) {
      fd = ::openat(dir, name, flags);
    }
    const int errnum = errno;
    close_dir();
    if (fd < 0) {
      throw_open_error(path, errnum);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int stat_errno = errno;
      ::close(fd);
      throw error::IoError(error::system_message("cannot stat " + path, stat_errno));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw error::IoError("cannot read " + path + ": not a regular file");
    }
    if (size != nullptr) {
      *size = static_cast<std::uint64_t>(st.st_size);
    }
    return fd;
  }
}

} // namespace

int open_beneath(int root_fd, const std::string& path) {
  return open_beneath_sized(root_fd, path, nullptr);
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

LocalBodyProvider::LocalBodyProvider(const std::string& root) : m_root(root) {
  m_root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (m_root_fd < 0) {
    throw error::IoError(error::system_message("cannot open folder " + root, errno));
  }
}

LocalBodyProvider::~LocalBodyProvider() {
  ::close(m_root_fd);
}

std::unique_ptr<BodyReader> LocalBodyProvider::open(const Entry& entry, std::uint64_t offset) {
  const std::string& path = entry.source_or_path();
  std::uint64_t size = 0;
  const int fd = open_beneath_sized(m_root_fd, path, &size);
  if (size != entry.size) {
    ::close(fd);
    throw error::IntegrityError(path + ": " + std::to_string(size) + " bytes, listed with " +
                                std::to_string(entry.size) + " (it changed while being zipped)");
  }
  if (offset < size && size - offset > k_buffer_size) {
    ::posix_fadvise(fd, static_cast<off_t>(offset), 0, POSIX_FADV_SEQUENTIAL);
  }
  return std::make_unique<LocalBodyReader>(fd, offset, path);
}

} // namespace shared::zip
