// The frame every task's main() runs in: manifest, inputs, logger, signals, and the one
// place where errors become an exit status.
#pragma once

#include "shared/error/error.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/task/inputs.hpp"

#include <functional>

namespace shared::task {

/// What a task's code gets to work with.
struct TaskContext {
  const Inputs& inputs;
  log::Logger& logger;
  progress::Mode progress_mode; ///< from --quiet, the dialect and whether stderr is a terminal
};

/// A task's body: does the work, returns success or items_failed, throws error::Error
/// (or anything else, which counts as a bug) on failure.
using TaskBody = std::function<error::ExitCode(const TaskContext&)>;

/// Runs `body` with inputs from argv and the process environment, resolved against the
/// embedded manifests. Handles --help and --version, logs the error of a failed run in the
/// CI dialect, reports the result to Azure Pipelines, and returns the exit status for
/// main() to return.
int run(int argc, char** argv, const char* task_manifest, const char* common_manifest,
        const TaskBody& body);

} // namespace shared::task
