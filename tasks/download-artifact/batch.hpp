// download-artifact's batch mode: files by id from a GA4GH DRS 1.x service, checked
// for availability first, ordered by expected wait, fetched one at a time in parallel parts.
#pragma once

#include "shared/error/error.hpp"
#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/transfer/ranged_download.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tasks::download_artifact {

/// The batch inputs.
struct BatchOptions {
  std::string base;             ///< the DRS service's URL up to /objects
  std::vector<std::string> ids; ///< in the order given
  std::string destination;      ///< the output folder (created)
  bool skip_downloaded = false;
  bool skip_unavailable = false;
  /// skipValidation: no SHA-256 check of downloaded or existing files (sizes still checked).
  bool skip_validation = false;
  double max_wait = 3600; ///< seconds of staging polls per file
  shared::http::ClientOptions http;
  shared::transfer::RangedOptions ranged;
  shared::progress::Mode progress = shared::progress::Mode::off;
  /// Asks the user a yes/no question on a terminal; nullopt when there is no terminal.
  std::function<std::optional<bool>(const std::string& question)> ask;
  /// provider ghga: each file is saved as <id><extension>.c4gh, with the extension of
  /// `extensions` (from the work package; "" when absent): first its Crypt4GH envelope (GET
  /// <base>/objects/{id}/envelopes, checked to be one Crypt4GH header), then the encrypted body
  /// from the access URL (the DRS object's size and SHA-256 are the body's). false: provider
  /// drs, <id><extension of the DRS name>.
  bool ghga = false;
  std::map<std::string, std::string> extensions;
};

/// The ids of the `files` input: one a line, "@<path>" lines read from that file (one id a
/// line; blank lines and lines starting with # ignored). Throws error::UsageError naming the
/// input for an unreadable file, an empty list, or an id with "/" or a control character.
std::vector<std::string> read_ids(const std::vector<std::string>& lines);

/// "<id><extension>" with the extension of a DRS name: from its first "." on ("reads.fastq.gz"
/// gives ".fastq.gz"); "" when the name has none.
std::string file_name_for(const std::string& id, const std::string& drs_name);

/// The batch flow: check every id, report, ask or obey the skip flags (without a terminal and
/// without them: error::UsageError listing the ids), download in order, summarise. Returns
/// success, items_failed or integrity. A file counts as already downloaded when it is complete
/// under its final name: drs, the object's size and SHA-256 (when given); ghga, a Crypt4GH
/// header exactly as long as the bytes beyond the object's size, followed by a body with the
/// object's SHA-256 (when given). A .part never counts.
shared::error::ExitCode run_batch(const BatchOptions& options, shared::log::Logger& logger);

} // namespace tasks::download_artifact
