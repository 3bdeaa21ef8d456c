// What identifies a file's content without reading it (stat(2)): size, modification time and
// inode, as git's index and ccache's inode cache use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shared::fs {

/// A regular file's size, modification time and inode: a write changes the modification time,
/// a replacement the inode. What it cannot see: a write that keeps the size and restores the
/// time, or one within the filesystem's clock tick of the time taken (git's "racy clean").
struct Fingerprint {
  std::uint64_t size = 0;    ///< bytes
  std::int64_t mtime_ns = 0; ///< modification time, ns since the epoch
  std::uint64_t inode = 0;   ///< st_ino (compare prints of one filesystem only)
  bool operator==(const Fingerprint& other) const {
    return size == other.size && mtime_ns == other.mtime_ns && inode == other.inode;
  }
  bool operator!=(const Fingerprint& other) const { return !(*this == other); }
  /// The fingerprint of the file at `path` (absolute or relative to the working directory;
  /// a symlink is not followed), nullopt when there is no regular file there.
  static std::optional<Fingerprint> of(const std::string& path);
  /// The same for `name`, relative to the folder open as `folder_fd` (or AT_FDCWD).
  static std::optional<Fingerprint> of(int folder_fd, const std::string& name);
  /// The same for the file open as `fd` (fstat(2)).
  static std::optional<Fingerprint> of_descriptor(int fd);
};

} // namespace shared::fs
