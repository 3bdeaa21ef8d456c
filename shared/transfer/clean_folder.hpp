// Emptying a download's destination (cleanDestinationFolder), keeping what would be placed
// again unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace shared::transfer {

/// Which file a folder entry is, known from readdir(3) and its folder's st_dev, unstatted.
struct FileId {
  std::uint64_t device = 0; ///< st_dev
  std::uint64_t inode = 0;  ///< st_ino
};

/// Whether a regular file found while cleaning may stay: its path relative to the cleaned
/// folder ('/' separators), the folder it is in (open as `folder_fd`) with its `name` there, for
/// fstatat(2), and `id`, which file it is when that is known without a stat of the keeper's
/// own: from readdir, where the folder's filesystem gives stat's inode numbers
/// (fs::readdir_inodes_are_stat_inodes, asked again below a mount point), or from the clean's
/// stat of an entry of unknown type; else nullptr.
using KeepFile =
    std::function<bool(const std::string& path, int folder_fd, const char* name, const FileId* id)>;

/// Deletes everything inside `folder` (not the folder itself) but the regular files `keep`
/// (may be empty) lets stay and the folders holding them. Symlinks are removed, never
/// followed; the top-level entries are shared by up to one thread a core. Nothing is done when
/// `folder` does not exist. Throws error::UsageError for "/" and error::IoError when something
/// stays that should not (naming the first such entry).
void clean_folder(const std::string& folder, const KeepFile& keep = {});

} // namespace shared::transfer
