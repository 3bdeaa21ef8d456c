// What goes into an archive of a local folder: its tree walked without following any symlink
// (shared/fs/tree_walker), names checked as the ZIP writer checks them. The one walk of local
// folders: used by the one-shot command, `download-dir-zip serve` and the jobs' zipper.
#pragma once

#include "shared/log/limited_warnings.hpp"
#include "shared/zip/entry.hpp"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace tasks::download_dir_zip {

/// The entries of an archive and what they add up to.
struct Plan {
  std::vector<shared::zip::Entry> entries;
  /// Per entry (same index): modification time in nanoseconds since the epoch (0 when not
  /// known), finer than Entry::mtime, for change detection (CRC cache, ETag).
  std::vector<std::int64_t> mtime_ns;
  std::uint64_t file_bytes = 0; ///< sum of file sizes in bytes
  std::uint64_t files = 0;
  std::uint64_t folders = 0;
  std::uint64_t links = 0;
  std::uint64_t skipped = 0;

  /// Adds an entry and counts it.
  void add(shared::zip::Entry entry, std::int64_t entry_mtime_ns = 0);
};

/// Whether the writer accepts `name` as an entry of `kind`; else a warning, counted as skipped.
bool acceptable(const std::string& name, shared::zip::EntryKind kind,
                shared::log::LimitedWarnings& warnings, Plan& plan);

/// Whether `<root>/<path>` is a folder reached without any symlink on the way from `root`
/// (`root` itself may be one). `path` is relative to `root`, '/'-separated, without empty, "."
/// or ".." segments (normalize_subtree()); "" is the root. When it is, `info` (if not null)
/// gets the folder's lstat.
bool find_folder(const std::string& root, const std::string& path, struct stat* info = nullptr);

/// Adds to `plan` everything under the folder `folder` (a path; the folder itself is not
/// added), named `prefix` + the path relative to `folder`, with Entry::source the path
/// relative to `folder` (for a LocalBodyProvider rooted there). Symlinks are never followed:
/// skipped, or with `store_symlinks` stored as links when they stay inside the folder both as
/// written and as resolved on disk. FIFOs, sockets and devices are skipped; so is the file
/// `skip` (dev/inode; e.g. the output of an earlier run) when not null. Skips are warned
/// about through `warnings`. Throws shared::error::IoError when a folder cannot be read.
void plan_folder(Plan& plan, const std::string& folder, const std::string& prefix,
                 bool store_symlinks, const struct stat* skip,
                 shared::log::LimitedWarnings& warnings);

} // namespace tasks::download_dir_zip
