// generate-metadata: hashes an artifact folder into artifact-metadata.csv.
#pragma once

#include "shared/error/error.hpp"
#include "shared/glob/glob.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/run.hpp"

#include <cstdint>
#include <string>

namespace tasks::generate_metadata {

/// What to hash and where to write it.
struct Options {
  std::string root_path;             ///< the artifact folder
  std::string output;                ///< the CSV's final path
  shared::glob::PatternSet patterns; ///< which relative paths to list
  unsigned parallel = 1;             ///< files hashed at once, at least 1
  bool follow_symlinks = false;      ///< follow links that stay inside root_path
};

/// What a run did.
struct Summary {
  std::uint64_t files = 0;   ///< lines written
  std::uint64_t bytes = 0;   ///< bytes hashed
  double seconds = 0;        ///< wall time of listing, hashing and writing
  std::uint64_t skipped = 0; ///< symlinks, special files and unrepresentable names left out
};

/// Options from the task's inputs (see task-manifests/generate-metadata.yml). Throws
/// shared::error::UsageError naming the input: missing or non-folder rootPath, bad glob.
Options options_from_inputs(const shared::task::Inputs& inputs);

/// Lists, hashes and writes the CSV through "<output>.part". Never lists the output, its
/// part file, or an artifact-metadata.csv at the root. Throws shared::error::IoError (an
/// unreadable file or folder, an unwritable output) or shared::error::Interrupted; then no
/// CSV is left under the final name and an existing one is untouched.
Summary generate(const Options& options, shared::log::Logger& logger,
                 shared::progress::Mode progress);

/// The task body for shared::task::run.
shared::error::ExitCode run(const shared::task::TaskContext& context);

} // namespace tasks::generate_metadata
