// The frame every task's main() runs in: manifest, inputs, logger, signals, and the one
// place where errors become an exit status.
#pragma once

#include "shared/error/error.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/manifest.hpp"

#include <functional>
#include <string>
#include <vector>

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
/// task's `manifest` (compiled in: cmake/EmbedManifest.cmake). Handles --help and --version,
/// logs the error of a failed run in the CI dialect, reports the result to Azure Pipelines,
/// and returns the exit status for main() to return.
int run(int argc, char** argv, const Manifest& manifest, const TaskBody& body);

/// A subcommand of a task's executable ("download-dir-zip serve"): its own manifest and body.
struct Subcommand {
  const char* name;         ///< the word after the executable's name, e.g. "serve"
  const Manifest* manifest; ///< its manifest (name: "<executable> <subcommand>"); not owned
  TaskBody body;
};

/// run() for an executable with subcommands: when argv[1] names one of `subcommands`, runs it
/// with argv from there on (so `<exe> serve --help` is the subcommand's help); otherwise runs
/// the executable's own manifest and body.
int run_with_subcommands(int argc, char** argv, const Manifest& manifest, const TaskBody& body,
                         const std::vector<Subcommand>& subcommands);

} // namespace shared::task
