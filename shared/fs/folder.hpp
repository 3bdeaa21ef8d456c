// Reading a folder's entries through its descriptor (POSIX readdir(3)).
#pragma once

#include <string>
#include <vector>

namespace shared::fs {

/// One entry of a folder.
struct FolderEntry {
  std::string name;
  unsigned char type = 0; ///< d_type: DT_REG, DT_DIR, DT_LNK, … or DT_UNKNOWN (then fstatat)
};

/// Appends the entries of the folder open as `fd` ("." and ".." left out) to `entries`; `fd`
/// stays open and its position is not used. False, with errno set, when the folder cannot be
/// read.
bool read_folder(int fd, std::vector<FolderEntry>& entries);

} // namespace shared::fs
