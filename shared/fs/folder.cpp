#include "shared/fs/folder.hpp"

#include "shared/fs/descriptor.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace shared::fs {

bool read_folder(int fd, std::vector<FolderEntry>& entries) {
  Descriptor copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  DIR* stream = copy.valid() ? ::fdopendir(copy.get()) : nullptr;
  if (stream == nullptr) {
    const int saved = errno;
    copy.reset();
    errno = saved;
    return false;
  }
  copy.release(); // closedir() closes it
  ::rewinddir(stream);
  errno = 0;
  while (const dirent* entry = ::readdir(stream)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      entries.push_back({entry->d_name, entry->d_type, static_cast<std::uint64_t>(entry->d_ino)});
    }
  }
  const int saved = errno;
  ::closedir(stream);
  errno = saved;
  return saved == 0;
}

bool readdir_inodes_are_stat_inodes(int fd) {
  struct statfs info {};
  if (::fstatfs(fd, &info) != 0) {
    return false;
  }
  // EXT4_SUPER_MAGIC is also ext2's and ext3's.
  switch (static_cast<unsigned long>(info.f_type)) {
  case EXT4_SUPER_MAGIC:
  case XFS_SUPER_MAGIC:
  case BTRFS_SUPER_MAGIC:
  case TMPFS_MAGIC:
    return true;
  default:
    return false;
  }
}

} // namespace shared::fs
