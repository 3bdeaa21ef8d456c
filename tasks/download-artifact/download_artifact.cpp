#include "tasks/download-artifact/download_artifact.hpp"

#include "shared/format/units.hpp"
#include "shared/http/client.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "shared/task/http_inputs.hpp"
#include "shared/task/interrupt.hpp"
#include "tasks/download-artifact/ghga.hpp"

#include <atomic>
#include <future>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <unistd.h>

namespace tasks::download_artifact {
namespace {

constexpr std::size_t k_failures_listed = 50;

void log_summary(const Options& options, const shared::transfer::DownloadSummary& summary,
                 shared::log::Logger& logger) {
  namespace format = shared::format;
  if (!summary.failures.empty()) {
    logger.group_begin("Failed items (" + format::count(summary.failures.size()) + ")");
    for (std::size_t i = 0; i < summary.failures.size() && i < k_failures_listed; ++i) {
      logger.info("  " + summary.failures[i].path + ": " + summary.failures[i].message);
    }
    if (summary.failures.size() > k_failures_listed) {
      logger.info("  … and " + format::count(summary.failures.size() - k_failures_listed) +
                  " more");
    }
    logger.group_end();
  }
  std::string line = "Downloaded " + format::count(summary.downloaded) + " files (" +
                     format::bytes(summary.bytes) + ") to " + options.download.destination +
                     " in " + format::duration(summary.seconds) + " (" +
                     format::rate(summary.bytes, summary.seconds) +
                     "): " + format::count(summary.skipped) + " skipped, " +
                     format::count(summary.failures.size()) + " failed, " +
                     format::count(summary.retries) + " retries";
  if (summary.from_cache > 0) {
    line += ", " + format::count(summary.from_cache) + " from cache (" +
            format::bytes(summary.bytes_saved) + " not downloaded)";
  }
  if (summary.folders > 0) {
    line += ", " + format::count(summary.folders) + " empty folders";
  }
  if (summary.not_attempted > 0) {
    line += ", " + format::count(summary.not_attempted) + " not attempted (failFast)";
  }
  logger.info(line);
}

} // namespace

std::string default_cache_folder(const shared::log::EnvLookup& env) {
  for (const char* name : {"AGENT_WORKFOLDER", "RUNNER_TOOL_CACHE"}) {
    if (auto value = env(name); value && !value->empty()) {
      return *value;
    }
  }
  if (auto xdg = env("XDG_CACHE_HOME"); xdg && !xdg->empty()) {
    return *xdg + "/artifact-tasks";
  }
  return env("HOME").value_or("/tmp") + "/.cache/artifact-tasks";
}

Options options_from_inputs(const shared::task::Inputs& inputs, shared::log::Logger& logger,
                            shared::progress::Mode progress) {
  Options options;
  options.source = inputs.text("source");
  options.provider = inputs.text("provider");
  options.clean_destination = inputs.boolean("cleanDestination");
  options.incremental = inputs.boolean("incremental");
  options.cache.folder = inputs.has("cacheDirectory")
                             ? inputs.text("cacheDirectory")
                             : default_cache_folder(shared::log::process_environment());
  options.cache.key = inputs.text("cacheKey");
  options.cache.link = inputs.text("cacheLink") == "copy"
                           ? shared::cache::ArtifactCache::Link::copy
                           : shared::cache::ArtifactCache::Link::hardlink;
  options.cache.hash_every_file = inputs.text("cacheValidation") == "hash";
  options.cache.max_size = inputs.size("cacheMaxSize");
  options.cache.lock_timeout = inputs.number("cacheLockTimeout");

  auto& download = options.download;
  download.destination = inputs.text("destination");
  try {
    download.patterns = shared::glob::PatternSet::from_lines(inputs.lines("itemPattern"));
  } catch (const std::invalid_argument& e) {
    throw shared::error::UsageError(inputs.value("itemPattern").origin + ": " + e.what());
  }
  download.parallel = static_cast<unsigned>(inputs.integer("parallel"));
  download.fail_fast = inputs.boolean("failFast");
  download.skip_validation = inputs.boolean("skipValidation");
  download.progress = progress;
  download.cancelled = shared::task::interrupted;
  options.source_context.http = shared::task::http_options_from_inputs(inputs, logger);
  download.retry = options.source_context.http.retry;
  options.source_context.logger = &logger;
  return options;
}

namespace {

// A yes/no question on the terminal (stderr, answered on stdin); nullopt without one.
std::optional<bool> ask_on_terminal(const std::string& question) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) {
    return std::nullopt;
  }
  for (;;) {
    std::cerr << question << " [y/n] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) {
      return false;
    }
    if (answer == "y" || answer == "Y" || answer == "yes") {
      return true;
    }
    if (answer == "n" || answer == "N" || answer == "no") {
      return false;
    }
  }
}

// The batch inputs (--provider drs or ghga). For ghga the work package is read, and the
// user's key checked against it, before anything else.
BatchOptions batch_options_from_inputs(const Options& options,
                                       const shared::task::TaskContext& context) {
  const shared::task::Inputs& inputs = context.inputs;
  BatchOptions batch;
  batch.base = options.source;
  if (options.provider == "ghga") {
    const std::vector<std::string> only =
        inputs.has("files") ? read_ids(inputs.lines("files")) : std::vector<std::string>{};
    const auto& key = inputs.value("myPublicKeyPath");
    const shared::source::EnvWorkPackageSource work_package(shared::log::process_environment());
    use_work_package(work_package, inputs.text("myPublicKeyPath"),
                     key.source == shared::task::InputSource::none ? "--my-public-key-path"
                                                                   : key.origin,
                     only, batch, context.logger);
  } else {
    batch.ids = read_ids(inputs.lines("files"));
  }
  batch.destination = options.download.destination;
  batch.skip_downloaded = inputs.boolean("skipDownloaded");
  batch.skip_unavailable = inputs.boolean("skipUnavailable");
  batch.skip_validation = options.download.skip_validation;
  batch.max_wait = inputs.number("maxWait");
  batch.http = options.source_context.http;
  batch.ranged.http = options.source_context.http;
  batch.ranged.part_size = inputs.size("partSize");
  if (batch.ranged.part_size < (64u << 10)) {
    throw shared::error::UsageError("--part-size: at least 64KiB, got " + inputs.text("partSize"));
  }
  batch.ranged.parallel = options.download.parallel;
  batch.progress = context.progress_mode;
  batch.ask = ask_on_terminal;
  return batch;
}

// Lists the source while `cache` (may be null) is opened on a thread of its own: both take a
// while (the cache may wait for its lock) and neither needs the other. A failed listing ends
// the cache's wait for its lock. Throws what Source::list() throws, and error::Interrupted.
shared::source::Listing list_source(shared::source::Source& source, IncrementalCache* cache,
                                    shared::log::Logger& logger) {
  std::atomic<bool> listing_failed{false};
  std::future<void> opened;
  if (cache != nullptr) {
    opened = std::async(std::launch::async, [cache, &listing_failed] {
      cache->open([&listing_failed] { return listing_failed.load(); });
    });
  }
  logger.info("Listing " + source.describe());
  shared::source::Listing listing;
  try {
    listing = source.list();
  } catch (...) {
    listing_failed = true; // the cache stops waiting for its lock
    if (opened.valid()) {
      opened.wait();
    }
    throw;
  }
  if (opened.valid()) {
    opened.get(); // rethrows error::Interrupted
  }
  logger.info("Listed " + shared::format::count(listing.items.size()) + " items (" +
              listing.method + (listing.has_metadata ? ", with SHA-256" : "") + ")");
  return listing;
}

// After the download: the cache is updated with the checked files (only those: later runs
// copy or link them without reading them), when no item failed.
void update_cache(IncrementalCache& cache, const Options& options,
                  const shared::source::Listing& listing,
                  const shared::transfer::DownloadSummary& summary, shared::log::Logger& logger) {
  if (options.download.skip_validation) {
    logger.info("Cache not updated: with skipValidation nothing was checked");
    return;
  }
  if (!summary.failures.empty()) {
    return;
  }
  std::vector<shared::metadata::Entry> entries;
  std::vector<std::optional<shared::fs::Fingerprint>> checked; // what each was when checked
  for (std::size_t i = 0; i < listing.items.size(); ++i) {
    const auto& item = listing.items[i];
    if (item.sha256 && options.download.patterns.matches(item.path)) {
      entries.push_back({item.path, *item.sha256});
      checked.push_back(i < summary.checked.size() ? summary.checked[i] : std::nullopt);
    }
  }
  cache.update(options.download.destination, entries, checked);
}

// Downloads the listing of a file share or web store; with `incremental`, through the key's
// cache: its files whose hashes the listing names are copied or linked instead of fetched.
shared::error::ExitCode download_listing(const Options& options, shared::log::Logger& logger) {
  const auto source =
      shared::source::make_source(options.source, options.provider, options.source_context);
  std::optional<IncrementalCache> cache;
  if (options.incremental) {
    CacheOptions cache_options = options.cache;
    if (cache_options.key.empty()) {
      cache_options.key = source->cache_key();
    }
    cache.emplace(cache_options, logger, shared::task::interrupted);
  }
  const shared::source::Listing listing = list_source(*source, cache ? &*cache : nullptr, logger);
  shared::transfer::DownloadOptions download = options.download;
  if (cache && !listing.has_metadata) {
    logger.warning("incremental: no usable artifact-metadata.csv at the source; plain download, "
                   "cache not touched");
    cache.reset(); // read, never written: the lock goes
  } else if (cache) {
    cache->offer_local_copies(download);
  }
  shared::transfer::InPlace in_place;
  if (options.clean_destination) {
    // Files that are already hard links of the cached files they would be linked from again
    // stay, and the download does not look at them again.
    shared::transfer::clean_folder(
        download.destination, shared::transfer::placed_local_copies(listing, download, &in_place));
    download.in_place = &in_place;
  }
  const auto summary = shared::transfer::download(*source, listing, download, logger);
  log_summary(options, summary, logger);
  if (cache) {
    update_cache(*cache, options, listing, summary, logger);
  }
  return summary.exit_code();
}

} // namespace

shared::error::ExitCode run(const shared::task::TaskContext& context) {
  const Options options =
      options_from_inputs(context.inputs, context.logger, context.progress_mode);
  if (options.provider == "drs" || options.provider == "ghga") {
    return run_batch(batch_options_from_inputs(options, context), context.logger);
  }
  return download_listing(options, context.logger);
}

} // namespace tasks::download_artifact
