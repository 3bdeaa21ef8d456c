// download-artifact: brings a build's artifact from a file share or web store into the
// workspace: a plain download, or an incremental one through the local cache; or, with
// --provider drs or ghga, a batch of files by id.
#pragma once

#include "shared/error/error.hpp"
#include "shared/source/source.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/run.hpp"
#include "shared/transfer/downloader.hpp"
#include "tasks/download-artifact/batch.hpp"
#include "tasks/download-artifact/incremental.hpp"

#include <string>

namespace tasks::download_artifact {

/// Everything a run needs, from the inputs.
struct Options {
  std::string source;
  std::string provider = "auto";
  bool clean_destination = false;
  bool incremental = false;
  CacheOptions cache;
  shared::transfer::DownloadOptions download;
  shared::source::SourceContext source_context;
};

/// The default cache folder: $AGENT_WORKFOLDER (Azure Pipelines), $RUNNER_TOOL_CACHE (GitHub
/// Actions), else $XDG_CACHE_HOME/artifact-tasks, else $HOME/.cache/artifact-tasks.
std::string default_cache_folder(const shared::log::EnvLookup& env);

/// Options from the task's inputs (task-manifests/download-artifact.yml) and the proxy
/// variables of the environment. Throws shared::error::UsageError naming the input.
Options options_from_inputs(const shared::task::Inputs& inputs, shared::log::Logger& logger,
                            shared::progress::Mode progress);

/// The task body for shared::task::run: list, download, summarise. Returns success,
/// items_failed or integrity; throws for a source that cannot be listed.
shared::error::ExitCode run(const shared::task::TaskContext& context);

} // namespace tasks::download_artifact
