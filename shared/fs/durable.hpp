// Making written files durable (fsync(2) and friends) before a marker says they are there,
// without waiting for every other job's unsynced data on the same filesystem.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace shared::fs {

/// Above this many files, one syncfs(2) is used instead of a sync of each: a sync per file costs
/// more as files add up, while syncfs costs about the same for any count but also waits for
/// every other job's unsynced data on the filesystem, which can make it much slower. The
/// limit is high so that syncfs is only used where the per-file syncs would clearly cost more.
inline constexpr std::size_t k_sync_each_max = 10000;

/// How sync_files makes files durable.
enum class SyncMethod {
  none,      ///< nothing to do: the filesystem is in memory (tmpfs, ramfs), or no files
  each,      ///< writeback of each file started, then each waited for (fdatasync)
  filesystem ///< one syncfs(2) of the whole filesystem
};

/// The method sync_files uses for `count` files on the filesystem of the folder open as
/// `folder_fd`: none in memory, each up to `each_max` files, else filesystem.
SyncMethod sync_method(int folder_fd, std::size_t count, std::size_t each_max = k_sync_each_max);

/// Makes the bytes of the files at `paths` (absolute, or relative to the working directory; on
/// the filesystem of the folder open as `folder_fd`) durable, by sync_method: for `each`,
/// writeback of them all is started first (sync_file_range(2)), then each is waited for
/// (fdatasync(2), on up to 8 threads, since each waits for the disk; on ext4 one journal commit
/// serves many). Throws error::IoError naming the file (or the filesystem) that failed.
void sync_files(int folder_fd, const std::vector<std::string>& paths,
                std::size_t each_max = k_sync_each_max);

/// fsync(2) of the folder at `path`, so that names created or renamed in it are durable.
/// Errors are ignored (a folder that cannot be opened has nothing of ours to sync).
void sync_folder(const std::string& path);

} // namespace shared::fs
