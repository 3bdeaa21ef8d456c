// --help and --version text, derived from the task manifest.
#pragma once

#include "shared/task/manifest.hpp"

#include <string>

namespace shared::task {

/// Usage, description, every input (flag, environment variable, type, default, help) by
/// group, and the exit-status table.
std::string format_help(const Manifest& manifest);

/// "<name> <version>".
std::string format_version(const Manifest& manifest);

} // namespace shared::task
