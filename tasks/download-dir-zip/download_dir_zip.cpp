#include "tasks/download-dir-zip/download_dir_zip.hpp"

#include "shared/format/units.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/tree_walker.hpp"
#include "shared/http/client.hpp"
#include "shared/log/limited_warnings.hpp"
#include "shared/progress/progress.hpp"
#include "shared/source/file_source.hpp"
#include "shared/task/http_inputs.hpp"
#include "shared/task/interrupt.hpp"
#include "shared/zip/io.hpp"
#include "shared/zip/source_bodies.hpp"
#include "tasks/download-dir-zip/local_plan.hpp"

#include <Poco/String.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace tasks::download_dir_zip {
namespace {

namespace format = shared::format;
namespace zip = shared::zip;
using shared::error::UsageError;

constexpr std::size_t k_warnings_shown = 20;

std::string scheme_of(const std::string& location) {
  const auto colon = location.find("://");
  return colon == std::string::npos ? std::string() : Poco::toLower(location.substr(0, colon));
}

std::string last_segment(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') {
    trimmed.pop_back();
  }
  const auto slash = trimmed.rfind('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

// A local folder or file share: walked without following any symlink (nor one on the way
// from the source's root to the subtree).
Plan plan_local(const std::string& root, const std::string& prefix, const Options& options,
                shared::log::LimitedWarnings& warnings) {
  struct stat info {};
  if (!find_folder(root, options.path, &info)) {
    throw UsageError("--path: no folder \"" + options.path + "\" in " + options.source);
  }
  struct stat output {}; // an archive left by an earlier run inside the tree is not zipped
  const bool skip_output = options.output != "-" && ::stat(options.output.c_str(), &output) == 0;
  Plan plan;
  if (!prefix.empty()) {
    plan.add({prefix, zip::EntryKind::folder, 0, std::nullopt,
              static_cast<std::int64_t>(info.st_mtim.tv_sec), info.st_mode & 07777u, "", ""});
  }
  const std::string subtree = options.path.empty() ? root : root + "/" + options.path;
  plan_folder(plan, subtree, prefix, options.store_symlinks, skip_output ? &output : nullptr,
              warnings);
  return plan;
}

// Sizes a web store's listing did not give, from HEAD requests, `parallel` at a time.
void head_sizes(std::vector<std::pair<zip::Entry*, const shared::source::Item*>>& missing,
                const Options& options, shared::log::Logger& logger) {
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr failure;
  const auto work = [&] {
    try {
      shared::http::Client client(options.source_context.http, logger);
      for (std::size_t i = next++; i < missing.size(); i = next++) {
        const auto response = client.head(missing[i].second->location);
        const std::string length = response.header("Content-Length");
        if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
          throw shared::error::IoError("no size for " + missing[i].second->path +
                                       ": its HEAD response has no Content-Length");
        }
        missing[i].first->size = std::stoull(length);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) {
        failure = std::current_exception();
      }
      next = missing.size();
    }
  };
  std::vector<std::thread> threads;
  const std::size_t count = std::min<std::size_t>(options.parallel, missing.size());
  for (std::size_t t = 0; t < count; ++t) {
    threads.emplace_back(work);
  }
  for (auto& thread : threads) {
    thread.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// A web store: its listing, narrowed to the subtree; sizes by HEAD where it gives none.
Plan plan_remote(const shared::source::Listing& listing, const std::string& subtree,
                 const std::string& prefix, const Options& options,
                 shared::log::LimitedWarnings& warnings, shared::log::Logger& logger) {
  Plan plan;
  const std::string under = subtree.empty() ? "" : subtree + "/";
  std::vector<std::pair<std::size_t, const shared::source::Item*>> missing;
  bool found = subtree.empty();
  if (!prefix.empty()) {
    plan.add({prefix, zip::EntryKind::folder, 0, std::nullopt, 0, 0755, "", ""});
  }
  for (const auto& item : listing.items) {
    if (item.path.compare(0, under.size(), under) != 0 || item.path.size() == under.size()) {
      found = found || item.path == subtree;
      continue;
    }
    found = true;
    const std::string name = prefix + item.path.substr(under.size());
    const auto kind = item.is_directory ? zip::EntryKind::folder : zip::EntryKind::file;
    if (!acceptable(name, kind, warnings, plan)) {
      continue;
    }
    const mode_t mode = item.is_directory ? 0755 : 0644;
    if (!item.is_directory && !item.size) {
      missing.emplace_back(plan.entries.size(), &item);
    }
    plan.add({name, kind, item.size.value_or(0), std::nullopt, 0, mode, "", item.path});
  }
  if (!found) {
    throw UsageError("--path: no folder \"" + subtree + "\" in " + options.source);
  }
  if (!missing.empty()) {
    logger.info("Asking the store for " + format::count(missing.size()) + " file sizes (HEAD)");
    std::vector<std::pair<zip::Entry*, const shared::source::Item*>> pending;
    for (const auto& [index, item] : missing) {
      pending.emplace_back(&plan.entries[index], item);
    }
    head_sizes(pending, options, logger);
    for (const auto& [entry, item] : pending) {
      plan.file_bytes += entry->size;
    }
  }
  return plan;
}

// Archive bytes on their way out: cancellation and progress.
class CountingSink : public zip::Sink {
public:
  CountingSink(zip::Sink& inner, shared::progress::Reporter& progress)
      : m_inner(inner), m_progress(progress) {}
  bool write(const char* data, std::size_t size) override {
    if (shared::task::interrupted()) {
      throw shared::error::Interrupted();
    }
    if (!m_inner.write(data, size)) {
      return false;
    }
    m_progress.add_bytes(size);
    return true;
  }

private:
  zip::Sink& m_inner;
  shared::progress::Reporter& m_progress;
};

// A part file as a sink.
class PartFileSink : public zip::Sink {
public:
  explicit PartFileSink(shared::fs::PartFile& file) : m_file(file) {}
  bool write(const char* data, std::size_t size) override {
    m_file.write(data, size);
    return true;
  }

private:
  shared::fs::PartFile& m_file;
};

std::string describe_bytes(std::uint64_t bytes) {
  return format::bytes(bytes) + " (" + format::count(bytes) + " bytes)";
}

// The archive goes to standard output: it must not be a terminal, the log goes to standard
// error, and a reader that goes away is an EPIPE, not a kill.
void prepare_stdout(shared::log::Logger& logger) {
  if (::isatty(STDOUT_FILENO)) {
    throw UsageError("--output -: standard output is a terminal; redirect it to a file or pipe");
  }
  logger.send_output_to_error();
  std::signal(SIGPIPE, SIG_IGN);
}

// What the archive holds and where its bodies come from.
struct Contents {
  std::unique_ptr<shared::source::Source> source; // a remote source, kept for its bodies
  shared::source::Listing listing;                // its listing, which the bodies point into
  Plan plan;
  std::unique_ptr<zip::BodyProvider> bodies;
};

// A local folder or file share: the subtree walked, bodies read beneath it.
Contents list_local(const Options& options, shared::log::LimitedWarnings& warnings,
                    shared::log::Logger& logger) {
  const std::string root = shared::source::path_from_file_url(options.source);
  struct stat info {};
  if (::stat(root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw UsageError("--source: \"" + root + "\" is not a folder");
  }
  const std::string subtree = options.path.empty() ? root : root + "/" + options.path;
  std::string prefix;
  if (options.top_folder) {
    std::error_code ec;
    prefix = last_segment(std::filesystem::canonical(subtree, ec).string());
    if (ec || prefix.empty() || prefix == "/") {
      throw UsageError("--top-folder: " + subtree + " has no name to use as the top folder");
    }
    prefix += "/";
  }
  logger.info("Listing " + subtree);
  Contents contents;
  contents.plan = plan_local(root, prefix, options, warnings);
  contents.bodies = std::make_unique<zip::LocalBodyProvider>(subtree);
  return contents;
}

// A remote source (web store, DRS): listed once, bodies fetched through its readers.
Contents list_remote(const Options& options, shared::log::LimitedWarnings& warnings,
                     shared::log::Logger& logger) {
  Contents contents;
  contents.source =
      shared::source::make_source(options.source, options.provider, options.source_context);
  logger.info("Listing " + contents.source->describe());
  contents.listing = contents.source->list();
  const std::string top = options.path.empty() ? last_segment(contents.source->cache_key())
                                               : last_segment(options.path);
  const std::string prefix = options.top_folder ? top + "/" : "";
  contents.plan = plan_remote(contents.listing, options.path, prefix, options, warnings, logger);
  std::unordered_map<std::string, const shared::source::Item*> items;
  for (const auto& item : contents.listing.items) {
    items.emplace(item.path, &item);
  }
  contents.bodies = std::make_unique<zip::SourceBodyProvider>(*contents.source, std::move(items));
  return contents;
}

// Logs what will be zipped; throws UsageError over --max-size, before anything is written.
void check_size(const Plan& plan, const Options& options, shared::log::Logger& logger) {
  logger.info("Zipping " + format::count(plan.files) + " files (" + format::bytes(plan.file_bytes) +
              "), " + format::count(plan.folders) + " folders, " + format::count(plan.links) +
              " symlinks");
  if (options.max_size != 0 && plan.file_bytes > options.max_size) {
    throw UsageError("--max-size: the folder holds " + describe_bytes(plan.file_bytes) +
                     " of files, over the limit of " + describe_bytes(options.max_size) +
                     "; nothing was written (raise --max-size, or 0 for no limit)");
  }
}

// Streams the archive to standard output, or to the output's part file, renamed when complete.
zip::WriteResult write_output(Contents& contents, const Options& options,
                              shared::progress::Mode mode, shared::log::Logger& logger) {
  const auto expected = zip::archive_size(contents.plan.entries, options.write);
  shared::progress::Reporter progress(logger, mode, "Zipping", "files", 0, expected.value_or(0));
  zip::WriteResult result;
  if (options.output == "-") {
    zip::FdSink out(STDOUT_FILENO, "standard output");
    CountingSink sink(out, progress);
    result =
        zip::write_archive(std::move(contents.plan.entries), options.write, *contents.bodies, sink);
  } else {
    shared::fs::PartFile file(options.output, options.durability);
    PartFileSink out(file);
    CountingSink sink(out, progress);
    result =
        zip::write_archive(std::move(contents.plan.entries), options.write, *contents.bodies, sink);
    file.commit();
  }
  progress.stop();
  return result;
}

} // namespace

std::string normalize_subtree(const std::string& path) {
  std::string result;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    const std::string segment = path.substr(start, slash - start);
    if (segment == "..") {
      throw UsageError("--path: \"" + path + "\" climbs out of the source with ..");
    }
    if (!segment.empty() && segment != ".") {
      result += (result.empty() ? "" : "/") + segment;
    }
    if (start == 0 && slash == 0 && !path.empty()) {
      throw UsageError("--path: \"" + path + "\" must be relative to the source's root");
    }
    start = slash + 1;
  }
  if (result.find('\\') != std::string::npos) {
    throw UsageError("--path: \"" + path + "\" has a backslash; separate folders with /");
  }
  return result;
}

bool link_stays_inside(const std::string& link, const std::string& target) {
  if (target.empty() || target.front() == '/') {
    return false;
  }
  // Depth of the folder holding the link, then walk the target's segments.
  long depth = static_cast<long>(std::count(link.begin(), link.end(), '/'));
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t slash = target.find('/', start);
    if (slash == std::string::npos) {
      slash = target.size();
    }
    const std::string segment = target.substr(start, slash - start);
    if (segment == "..") {
      if (--depth < 0) {
        return false;
      }
    } else if (!segment.empty() && segment != ".") {
      ++depth;
    }
    start = slash + 1;
  }
  return true;
}

Options options_from_inputs(const shared::task::Inputs& inputs, shared::log::Logger& logger) {
  Options options;
  options.source = inputs.text("source");
  options.provider = inputs.text("provider");
  options.path = normalize_subtree(inputs.text("path"));
  options.output = inputs.text("output");
  options.top_folder = inputs.boolean("topFolder");
  options.write.method =
      inputs.text("compression") == "deflate" ? zip::Method::deflate : zip::Method::store;
  options.write.level = static_cast<int>(inputs.integer("compressionLevel"));
  options.max_size = inputs.size("maxSize");
  options.store_symlinks = inputs.text("symlinks") == "store";
  options.parallel = static_cast<unsigned>(inputs.integer("parallel"));
  options.durability =
      inputs.boolean("fsync") ? shared::fs::Durability::flush : shared::fs::Durability::none;
  options.source_context.http = shared::task::http_options_from_inputs(inputs, logger);
  options.source_context.logger = &logger;
  return options;
}

shared::error::ExitCode run(const shared::task::TaskContext& context) {
  shared::log::Logger& logger = context.logger;
  const Options options = options_from_inputs(context.inputs, logger);
  const bool to_stdout = options.output == "-";
  if (to_stdout) {
    prepare_stdout(logger);
  }
  const auto start = std::chrono::steady_clock::now();

  // What goes in: listed before anything is written.
  shared::log::LimitedWarnings warnings(logger, k_warnings_shown);
  const std::string scheme = scheme_of(options.source);
  const bool local = options.provider == "file" ||
                     (options.provider == "auto" && (scheme.empty() || scheme == "file"));
  Contents contents =
      local ? list_local(options, warnings, logger) : list_remote(options, warnings, logger);
  warnings.finish("skipped entries");
  check_size(contents.plan, options, logger);

  // The archive, streamed.
  const std::uint64_t file_bytes = contents.plan.file_bytes;
  const std::uint64_t skipped = contents.plan.skipped;
  const zip::WriteResult result = write_output(contents, options, context.progress_mode, logger);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string line = "Wrote " + (to_stdout ? std::string("the archive") : options.output) + ": " +
                     format::count(result.entries) + " entries, " +
                     format::bytes(result.archive_size) + " from " + format::bytes(file_bytes) +
                     " of files in " + format::duration(seconds) + " (" +
                     format::rate(file_bytes, seconds) + ")";
  if (skipped > 0) {
    line += ", " + format::count(skipped) + " skipped";
  }
  logger.info(line);
  return shared::error::ExitCode::success;
}

} // namespace tasks::download_dir_zip
