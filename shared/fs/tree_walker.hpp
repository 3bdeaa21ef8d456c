// Walking a folder tree without leaving it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace shared::fs {

/// What a walked entry is.
enum class EntryKind {
  file,    ///< a regular file
  folder,  ///< a folder (reported before its contents)
  symlink, ///< a symbolic link that was not followed; see TreeEntry::link_status
  other,   ///< a FIFO, socket or device: never opened
};

/// Why a symbolic link was reported as a link rather than followed.
enum class LinkStatus {
  none,         ///< not a link, or a link that was followed
  not_followed, ///< following links is off
  outside_root, ///< the target resolves outside the root: never followed
  dangling,     ///< the target does not exist
  loop,         ///< the target is a folder that contains the link
};

/// One entry of the tree.
struct TreeEntry {
  std::string path; ///< relative to the root, '/' separators, bytes as on disk
  EntryKind kind = EntryKind::other;
  std::uint64_t size = 0;    ///< bytes, for files
  std::int64_t mtime_ns = 0; ///< modification time, nanoseconds since the Unix epoch
  std::uint32_t mode = 0;    ///< permission bits (st_mode & 07777)
  std::uint64_t device = 0;  ///< st_dev: with inode, identifies the file
  std::uint64_t inode = 0;   ///< st_ino
  bool via_link = false;     ///< reached by following a symlink inside the root
  LinkStatus link_status = LinkStatus::none;
  std::string link_target; ///< for symlinks: the link's text as stored
};

/// Walk options.
struct WalkOptions {
  /// Follow symlinks whose target resolves inside the root (never outside it, never into
  /// a loop). Off: links are reported as EntryKind::symlink.
  bool follow_symlinks = false;
};

/// Calls `visit` for every entry under `root` (not for the root itself), in no particular
/// order, parents before children. `visit` may throw to stop the walk. Throws
/// error::IoError naming the folder when `root` or a folder in it cannot be read.
void walk_tree(const std::string& root, const WalkOptions& options,
               const std::function<void(const TreeEntry&)>& visit);

} // namespace shared::fs
