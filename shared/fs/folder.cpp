#include "shared/fs/folder.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace shared::fs {

bool read_folder(int fd, std::vector<FolderEntry>& entries) {
  const int copy = ::dup(fd); // closedir() closes it
  DIR* dir = copy < 0 ? nullptr : ::fdopendir(copy);
  if (dir == nullptr) {
    const int saved = errno;
    if (copy >= 0) {
      ::close(copy);
    }
    errno = saved;
    return false;
  }
  ::rewinddir(dir);
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      entries.push_back({entry->d_name, entry->d_type, static_cast<std::uint64_t>(entry->d_ino)});
    }
  }
  const int saved = errno;
  ::closedir(dir);
  errno = saved;
  return saved == 0;
}

bool readdir_inodes_are_stat_inodes(int fd) {
  // statfs(2) magic numbers (linux/magic.h).
  constexpr unsigned long k_ext4 = 0xEF53; // ext2 and ext3 too
  constexpr unsigned long k_xfs = 0x58465342;
  constexpr unsigned long k_btrfs = 0x9123683E;
  constexpr unsigned long k_tmpfs = 0x01021994;
  struct statfs info {};
  if (::fstatfs(fd, &info) != 0) {
    return false;
  }
  const auto type = static_cast<unsigned long>(info.f_type);
  return type == k_ext4 || type == k_xfs || type == k_btrfs || type == k_tmpfs;
}

} // namespace shared::fs
