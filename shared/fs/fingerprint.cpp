#include "shared/fs/fingerprint.hpp"

#include <fcntl.h>
#include <sys/stat.h>

namespace shared::fs {
namespace {

std::optional<Fingerprint> from_stat(const struct stat& info) {
  if (!S_ISREG(info.st_mode)) {
    return std::nullopt;
  }
  Fingerprint print;
  print.size = static_cast<std::uint64_t>(info.st_size);
  print.mtime_ns =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  print.inode = static_cast<std::uint64_t>(info.st_ino);
  return print;
}

} // namespace

std::optional<Fingerprint> Fingerprint::of(const std::string& path) {
  return of(AT_FDCWD, path);
}

std::optional<Fingerprint> Fingerprint::of(int folder_fd, const std::string& name) {
  struct stat info {};
  if (::fstatat(folder_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::nullopt;
  }
  return from_stat(info);
}

std::optional<Fingerprint> Fingerprint::of_descriptor(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return std::nullopt;
  }
  return from_stat(info);
}

} // namespace shared::fs
