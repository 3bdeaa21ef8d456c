// Placing a file that is already on this machine somewhere else: by reflink, hard link or
// byte copy, always through a part file so the final name never holds a partial file.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace shared::fs {

/// How FilePlacer::place() made the new name.
enum class CopyMethod {
  reflink,   ///< a copy-on-write clone (FICLONE: btrfs, XFS, …): shares blocks, not the file
  hard_link, ///< link(2): both names are one file, so a write through either changes both
  bytes,     ///< copy_file_range(2), or read/write where the kernel cannot
};

/// What FilePlacer::place() did.
struct Placed {
  CopyMethod method = CopyMethod::bytes;
  std::uint64_t bytes = 0; ///< size of the placed file
};

/// What a caller of FilePlacer::place() already knows, so that it is not asked again.
struct PlaceHints {
  /// Bytes of `from`, which the caller has just found to be a regular file (lstat(2)):
  /// place() does not look again. nullopt: place() checks.
  std::optional<std::uint64_t> size;
  /// The folder was created by this run, so no leftover "<name>.part" can be in it: none is
  /// removed before a hard link.
  bool fresh_folder = false;
  /// `from` is also `from_name` in the folder open as `from_folder` (a shorter path for the kernel
  /// to walk; `from` still names it in errors). -1: not given.
  int from_folder = -1;
  const char* from_name = nullptr;
};

/// Makes files with the content of files already on this machine. place() makes `name` (a
/// path relative to the folder open as `folder_fd`, or AT_FDCWD) a file with the content of the
/// regular file `from` (absolute or relative to the working directory; a symlink there is
/// refused): a reflink where the filesystems can, else a hard link when allowed, else a copy of
/// the bytes. `name` is either untouched or complete: a new name is linked in one step, an
/// existing one replaced by renaming "<name>.part" over it. A made file has mode 0644 (before
/// umask); a hard link keeps the mode of `from`. After the first reflink the filesystems refuse,
/// none is tried again: use one FilePlacer per pair of folders (e.g. per download). Throws
/// error::IoError naming the path. Thread-safe.
class FilePlacer {
public:
  explicit FilePlacer(bool allow_hard_link) : m_allow_hard_link(allow_hard_link) {}

  Placed place(const std::string& from, int folder_fd, const std::string& name,
               const PlaceHints& hints = {});

private:
  bool m_allow_hard_link;
  std::atomic<bool> m_no_reflink{false};
  std::atomic<bool> m_no_hard_link{false};
};

} // namespace shared::fs
