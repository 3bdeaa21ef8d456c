#include "shared/fs/durable.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/parallel/for_each_index.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace shared::fs {
namespace {

// Threads waiting for the syncs: each mostly waits for the disk, not a core, so more threads
// than cores keep more syncs in flight (and one journal commit serves several of them).
constexpr std::size_t k_sync_threads = 8;

} // namespace

SyncMethod sync_method(int folder_fd, std::size_t count, std::size_t each_max) {
  struct statfs filesystem {};
  if (count == 0 || (::fstatfs(folder_fd, &filesystem) == 0 &&
                     (filesystem.f_type == TMPFS_MAGIC || filesystem.f_type == RAMFS_MAGIC))) {
    return SyncMethod::none;
  }
  return count > each_max ? SyncMethod::filesystem : SyncMethod::each;
}

void sync_files(int folder_fd, const std::vector<std::string>& paths, std::size_t each_max) {
  switch (sync_method(folder_fd, paths.size(), each_max)) {
  case SyncMethod::none:
    return;
  case SyncMethod::filesystem:
    if (::syncfs(folder_fd) != 0) {
      throw error::IoError(error::system_message("cannot sync the filesystem", errno));
    }
    return;
  case SyncMethod::each:
    break;
  }
  const auto sync = [&paths](std::size_t k, bool wait) {
    const Descriptor file(::open(paths[k].c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (file.get() < 0 ||
        (wait ? ::fdatasync(file.get())
              : ::sync_file_range(file.get(), 0, 0, SYNC_FILE_RANGE_WRITE)) != 0) {
      throw error::IoError(error::system_message("cannot sync " + paths[k], errno));
    }
  };
  for (std::size_t k = 0; k < paths.size(); ++k) {
    sync(k, false);
  }
  parallel::for_each_index(paths.size(), std::min(k_sync_threads - 1, paths.size() / 16),
                           [&sync](std::size_t k) { sync(k, true); });
}

void sync_folder(const std::string& path) {
  const Descriptor folder(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() >= 0) {
    ::fsync(folder.get());
  }
}

} // namespace shared::fs
