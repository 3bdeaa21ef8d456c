// Reading a folder's entries through its descriptor (POSIX readdir(3)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shared::fs {

/// One entry of a folder.
struct FolderEntry {
  std::string name;
  unsigned char type = 0;  ///< d_type: DT_REG, DT_DIR, DT_LNK, … or DT_UNKNOWN (then fstatat)
  std::uint64_t inode = 0; ///< d_ino: st_ino only where readdir_inodes_are_stat_inodes() says
};

/// Appends the entries of the folder open as `fd` ("." and ".." left out) to `entries`; `fd`
/// stays open and its position is not used. False, with errno set, when the folder cannot be
/// read.
bool read_folder(int fd, std::vector<FolderEntry>& entries);

/// Whether on the filesystem of the folder open as `fd` a regular file's d_ino from readdir(3)
/// is its st_ino from stat(2), so that an entry's identity needs no stat: true for ext2/3/4
/// (one magic number), XFS, btrfs and tmpfs (statfs(2) f_type); false elsewhere, e.g.
/// overlayfs, which may give a merged folder's entries other numbers (and devices) than
/// stat, and network filesystems.
bool readdir_inodes_are_stat_inodes(int fd);

} // namespace shared::fs
