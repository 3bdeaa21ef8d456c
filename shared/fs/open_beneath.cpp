#include "shared/fs/open_beneath.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shared::fs {
namespace {

// Set once openat2(2) answered ENOSYS (a kernel before 5.6, or a sandbox that hides it).
std::atomic<bool> g_openat2_missing{false};

// Whether `relative` can be opened beneath its folder at all: neither absolute nor with "..".
// False with errno = EXDEV.
bool stays_beneath(std::string_view relative) {
  if (!relative.empty() && relative.front() == '/') {
    errno = EXDEV;
    return false;
  }
  std::size_t start = 0;
  while (start <= relative.size()) {
    std::size_t end = relative.find('/', start);
    if (end == std::string_view::npos) {
      end = relative.size();
    }
    if (relative.substr(start, end - start) == "..") {
      errno = EXDEV;
      return false;
    }
    start = end + 1;
  }
  return true;
}

// The mode argument is only allowed (openat2) or used (openat) when a file may be created.
mode_t mode_for(int flags, mode_t mode) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
}

// openat2(2); false when the kernel does not have it (then nothing was opened).
bool open_with_openat2(int root_fd, std::string_view relative, int flags, mode_t mode,
                       Descriptor& out) {
  if (g_openat2_missing.load(std::memory_order_relaxed)) {
    return false;
  }
  const std::string path = relative.empty() ? std::string(".") : std::string(relative);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = mode_for(flags, mode);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = 0;
  do {
    fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0 && errno == ENOSYS) {
    g_openat2_missing.store(true, std::memory_order_relaxed);
    return false;
  }
  out.reset(static_cast<int>(fd));
  return true;
}

// After openat(O_NOFOLLOW) of `name` in `folder` failed with ENOTDIR or ELOOP: ELOOP when
// `name` is a symlink (what openat2 says), else the error unchanged.
int symlink_as_eloop(int folder, const std::string& name, int errnum) {
  struct stat st {};
  if (::fstatat(folder, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return ELOOP;
  }
  return errnum;
}

} // namespace

Descriptor open_beneath(int root_fd, std::string_view relative, int flags, mode_t mode) {
  if (!stays_beneath(relative)) {
    return Descriptor();
  }
  Descriptor out;
  if (open_with_openat2(root_fd, relative, flags, mode, out)) {
    return out;
  }
  return open_beneath_by_segments(root_fd, relative, flags, mode);
}

bool refused_beneath(int errnum) {
  return errnum == ELOOP || errnum == EXDEV;
}

Descriptor open_beneath_by_segments(int root_fd, std::string_view relative, int flags,
                                    mode_t mode) {
  if (!stays_beneath(relative)) {
    return Descriptor();
  }
  Descriptor folder; // invalid while still at root_fd
  std::size_t start = 0;
  for (;;) {
    std::size_t end = relative.find('/', start);
    const bool last = end == std::string_view::npos;
    if (last) {
      end = relative.size();
    }
    std::string name(relative.substr(start, end - start));
    start = end + 1;
    if (!last && (name.empty() || name == ".")) {
      continue;
    }
    const int at = folder.valid() ? folder.get() : root_fd;
    if (last) {
      name = name.empty() ? "." : name;
      Descriptor file(
          ::openat(at, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode_for(flags, mode)));
      if (!file.valid() && (errno == ELOOP || errno == ENOTDIR)) {
        errno = symlink_as_eloop(at, name, errno);
      }
      return file;
    }
    Descriptor next(::openat(at, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ENOTDIR || errno == ELOOP) {
        errno = symlink_as_eloop(at, name, errno);
      }
      return next;
    }
    folder = std::move(next);
  }
}

} // namespace shared::fs
