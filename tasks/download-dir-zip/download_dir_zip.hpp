// download-dir-zip: a subtree of an artifact (a local folder or file share, or a web store) as
// one ZIP archive, streamed through shared/zip to a file or standard output.
#pragma once

#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/source/source.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/run.hpp"
#include "shared/zip/entry.hpp"
#include "shared/zip/writer.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tasks::download_dir_zip {

/// Everything a run needs, from the inputs.
struct Options {
  std::string source;
  std::string provider = "auto";
  std::string path;   ///< the subtree, relative to the source's root; "" for all of it
  std::string output; ///< a file path, or "-" for standard output
  bool top_folder = false;
  shared::zip::WriteOptions write;
  std::uint64_t max_size = 0; ///< bytes of files; 0: no limit
  bool store_symlinks = false;
  unsigned parallel = 8; ///< HEAD requests at once
  /// How the output file is committed: flush (fsync) only when asked.
  shared::fs::Durability durability = shared::fs::Durability::none;
  shared::source::SourceContext source_context;
};

/// Options from the task's inputs (task-manifests/download-dir-zip.yml and http.yml). Throws
/// shared::error::UsageError naming the input.
Options options_from_inputs(const shared::task::Inputs& inputs, shared::log::Logger& logger);

/// The subtree as `path` names it: "" for the root, else a relative path without empty, "."
/// or ".." segments and without a trailing "/". Throws shared::error::UsageError.
std::string normalize_subtree(const std::string& path);

/// Whether a symlink at `link` (a path relative to the subtree) whose text is `target` stays
/// inside the subtree when resolved lexically: relative, and never climbing above the root.
bool link_stays_inside(const std::string& link, const std::string& target);

/// The task body for shared::task::run: list, check the size limit, write the archive.
shared::error::ExitCode run(const shared::task::TaskContext& context);

} // namespace tasks::download_dir_zip
