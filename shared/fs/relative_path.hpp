// Checks on relative item paths that come from outside (metadata files, listings), so that
// nothing can name a file outside the folder it is placed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shared::fs {

/// Why `path` is not a safe relative path with '/' separators, or nullopt when it is.
/// Refused: empty, absolute ('/' first), a drive letter ("C:"), an empty, "." or ".."
/// segment, a NUL byte. Backslashes are not looked at: callers decide what they mean.
std::optional<std::string> relative_path_problem(std::string_view path);

} // namespace shared::fs
