// Reading a task manifest's YAML (task-manifests/*.yml): at build time, by
// tools/manifest-compiler, which compiles the result into the task's executable, and in tests.
// The executables themselves never parse YAML.
#pragma once

#include "shared/task/manifest.hpp"

#include <string_view>

namespace shared::task {

/// Parses a task manifest and appends the inputs of `common_yaml` (task-manifests/common.yml
/// and the fragments, as YAML documents). Throws std::runtime_error naming the manifest and the
/// problem (an input declared twice, an unknown group or type, two positional inputs).
Manifest parse_manifest(std::string_view task_yaml, std::string_view common_yaml);

} // namespace shared::task
