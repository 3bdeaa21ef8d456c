// Opening a path beneath a folder without following any symlink and without leaving the folder.
#pragma once

#include "shared/fs/descriptor.hpp"

#include <string_view>
#include <sys/types.h>

namespace shared::fs {

/// Opens `relative`, a '/'-separated path relative to the folder open as `root_fd` (or
/// AT_FDCWD), with open(2)'s `flags` and `mode` (used with O_CREAT), following no symlink in
/// any segment and never leaving that folder. Empty segments and "." are skipped; an empty path
/// opens the folder itself. Uses openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the
/// kernel has it (Linux 5.6+), else one openat(2) with O_NOFOLLOW per segment.
///
/// Returns the descriptor, or an invalid Descriptor with errno set. Besides open(2)'s own
/// values, callers see:
///   ELOOP   a segment is a symlink (refused, whether or not its target exists);
///   EXDEV   the path leaves the folder: it is absolute or has a ".." segment (refused);
///   ENOENT  a segment does not exist (missing);
///   ENOTDIR a segment before the last is neither a folder nor a symlink (e.g. a file).
/// O_CLOEXEC is always added.
Descriptor open_beneath(int root_fd, std::string_view relative, int flags, mode_t mode = 0);

/// Whether `errnum` (errno after open_beneath) means the path was refused (a symlink on the
/// way, or leaving the folder) rather than missing or unreadable.
bool refused_beneath(int errnum);

/// The fallback of open_beneath, one openat(2) with O_NOFOLLOW per segment, with the same
/// contract: public so that tests run it on kernels that have openat2(2).
Descriptor open_beneath_by_segments(int root_fd, std::string_view relative, int flags,
                                    mode_t mode = 0);

} // namespace shared::fs
