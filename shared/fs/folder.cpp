#include "shared/fs/folder.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
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
      entries.push_back({entry->d_name, entry->d_type});
    }
  }
  const int saved = errno;
  ::closedir(dir);
  errno = saved;
  return saved == 0;
}

} // namespace shared::fs
