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

// What goes into the archive.
struct Plan {
  std::vector<zip::Entry> entries;
  std::uint64_t file_bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t folders = 0;
  std::uint64_t links = 0;
  std::uint64_t skipped = 0;
  std::vector<std::int64_t> mtimes_ns; ///< per entry: its modification time in nanoseconds

  void add(zip::Entry entry, std::optional<std::int64_t> mtime_ns = std::nullopt) {
    mtimes_ns.push_back(mtime_ns.value_or(entry.mtime * 1'000'000'000));
    switch (entry.kind) {
    case zip::EntryKind::file:
      ++files;
      file_bytes += entry.size;
      break;
    case zip::EntryKind::directory:
      ++folders;
      break;
    case zip::EntryKind::symlink:
      ++links;
      break;
    }
    entries.push_back(std::move(entry));
  }
};

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

// A name the writer accepts, or a warning and nothing.
bool acceptable(const std::string& name, zip::EntryKind kind,
                shared::log::LimitedWarnings& warnings, Plan& plan) {
  if (const auto problem = zip::check_entry_name(name, kind)) {
    warnings.warn("skipped " + name + ": " + *problem);
    ++plan.skipped;
    return false;
  }
  return true;
}

// Whether the symlink at `link` resolves, through whatever other links it meets on disk, to a
// place inside `real_folder` (a canonical path). A dangling tail is taken as written.
bool resolves_inside(const std::string& real_folder, const std::string& link) {
  std::error_code ec;
  const auto target = std::filesystem::weakly_canonical(link, ec);
  if (ec) {
    return false;
  }
  const std::string resolved = target.string();
  return resolved == real_folder || (resolved.size() > real_folder.size() &&
                                     resolved.compare(0, real_folder.size(), real_folder) == 0 &&
                                     (real_folder == "/" || resolved[real_folder.size()] == '/'));
}

// A local folder or file share: walked without following any symlink (nor one on the way
// from the source's root to the subtree).
Plan plan_local(const std::string& root, const std::string& prefix, const Options& options,
                shared::log::LimitedWarnings& warnings) {
  Plan plan;
  std::string subtree = root;
  struct stat info {};
  bool folder = ::stat(root.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  for (std::size_t start = 0; folder && start < options.path.size();) {
    const std::size_t slash = std::min(options.path.find('/', start), options.path.size());
    subtree += "/" + options.path.substr(start, slash - start);
    folder = ::lstat(subtree.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
    start = slash + 1;
  }
  if (!folder) {
    throw UsageError("--path: no folder \"" + options.path + "\" in " + options.source);
  }
  const std::string real_subtree = std::filesystem::canonical(subtree).string();
  struct stat output {}; // an archive left by an earlier run inside the tree is not zipped
  if (options.output == "-" || ::stat(options.output.c_str(), &output) != 0) {
    output = {};
  }
  if (!prefix.empty()) {
    plan.add({prefix, zip::EntryKind::directory, 0, std::nullopt,
              static_cast<std::int64_t>(info.st_mtim.tv_sec), info.st_mode & 07777u, "", ""});
  }
  namespace fs = shared::fs;
  fs::walk_tree(subtree, fs::WalkOptions{}, [&](const fs::TreeEntry& item) {
    const std::string name = prefix + item.path;
    const std::int64_t mtime = item.mtime_ns / 1'000'000'000;
    switch (item.kind) {
    case fs::EntryKind::file:
      if (output.st_ino != 0 && item.inode == output.st_ino && item.device == output.st_dev) {
        warnings.warn("skipped " + name + ": it is the output, from an earlier run");
        ++plan.skipped;
      } else if (acceptable(name, zip::EntryKind::file, warnings, plan)) {
        plan.add(
            {name, zip::EntryKind::file, item.size, std::nullopt, mtime, item.mode, "", item.path},
            item.mtime_ns);
      }
      break;
    case fs::EntryKind::directory:
      if (acceptable(name, zip::EntryKind::directory, warnings, plan)) {
        plan.add({name, zip::EntryKind::directory, 0, std::nullopt, mtime, item.mode, "", ""},
                 item.mtime_ns);
      }
      break;
    case fs::EntryKind::symlink:
      if (!options.store_symlinks) {
        warnings.warn("skipped symlink " + name + " (symlinks: skip)");
        ++plan.skipped;
      } else if (!link_stays_inside(item.path, item.link_target) ||
                 !resolves_inside(real_subtree, subtree + "/" + item.path)) {
        warnings.warn("skipped symlink " + name + " -> " + item.link_target +
                      ": it leads out of the folder");
        ++plan.skipped;
      } else if (acceptable(name, zip::EntryKind::symlink, warnings, plan)) {
        plan.add(
            {name, zip::EntryKind::symlink, 0, std::nullopt, mtime, 0777, item.link_target, ""},
            item.mtime_ns);
      }
      break;
    case fs::EntryKind::other:
      warnings.warn("skipped " + name + ": not a regular file, folder or symlink");
      ++plan.skipped;
      break;
    }
  });
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
    plan.add({prefix, zip::EntryKind::directory, 0, std::nullopt, 0, 0755, "", ""});
  }
  for (const auto& item : listing.items) {
    if (item.path.compare(0, under.size(), under) != 0 || item.path.size() == under.size()) {
      found = found || item.path == subtree;
      continue;
    }
    found = true;
    const std::string name = prefix + item.path.substr(under.size());
    const auto kind = item.is_directory ? zip::EntryKind::directory : zip::EntryKind::file;
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

LocalTree list_local_tree(const std::string& root, const std::string& path, bool store_symlinks,
                          shared::log::LimitedWarnings& warnings) {
  Options options;
  options.source = root;
  options.path = normalize_subtree(path);
  options.output = "-"; // no earlier output to leave out
  options.store_symlinks = store_symlinks;
  Plan plan = plan_local(root, "", options, warnings);
  LocalTree tree;
  tree.entries = std::move(plan.entries);
  tree.mtimes_ns = std::move(plan.mtimes_ns);
  tree.file_bytes = plan.file_bytes;
  tree.files = plan.files;
  tree.skipped = plan.skipped;
  return tree;
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
  options.source_context.http = shared::task::http_options_from_inputs(inputs, logger);
  options.source_context.logger = &logger;
  return options;
}

shared::error::ExitCode run(const shared::task::TaskContext& context) {
  shared::log::Logger& logger = context.logger;
  const Options options = options_from_inputs(context.inputs, logger);
  const bool to_stdout = options.output == "-";
  if (to_stdout) {
    if (::isatty(STDOUT_FILENO)) {
      throw UsageError("--output -: standard output is a terminal; redirect it to a file or pipe");
    }
    logger.send_output_to_error(); // stdout carries the archive
    std::signal(SIGPIPE, SIG_IGN); // a reader that goes away is an EPIPE, not a kill
  }
  const auto start = std::chrono::steady_clock::now();

  // What goes in: listed before anything is written.
  shared::log::LimitedWarnings warnings(logger, k_warnings_shown);
  const std::string scheme = scheme_of(options.source);
  const bool local = options.provider == "file" ||
                     (options.provider == "auto" && (scheme.empty() || scheme == "file"));
  std::unique_ptr<shared::source::Source> source;
  shared::source::Listing listing;
  Plan plan;
  std::unique_ptr<zip::BodyProvider> bodies;
  if (local) {
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
    plan = plan_local(root, prefix, options, warnings);
    bodies = std::make_unique<zip::LocalBodyProvider>(subtree);
  } else {
    source = shared::source::make_source(options.source, options.provider, options.source_context);
    logger.info("Listing " + source->describe());
    listing = source->list();
    const std::string top =
        options.path.empty() ? last_segment(source->cache_key()) : last_segment(options.path);
    const std::string prefix = options.top_folder ? top + "/" : "";
    plan = plan_remote(listing, options.path, prefix, options, warnings, logger);
    std::unordered_map<std::string, const shared::source::Item*> items;
    for (const auto& item : listing.items) {
      items.emplace(item.path, &item);
    }
    bodies = std::make_unique<zip::SourceBodyProvider>(*source, std::move(items));
  }
  warnings.finish("skipped entries");
  logger.info("Zipping " + format::count(plan.files) + " files (" + format::bytes(plan.file_bytes) +
              "), " + format::count(plan.folders) + " folders, " + format::count(plan.links) +
              " symlinks");
  if (options.max_size != 0 && plan.file_bytes > options.max_size) {
    throw UsageError("--max-size: the folder holds " + describe_bytes(plan.file_bytes) +
                     " of files, over the limit of " + describe_bytes(options.max_size) +
                     "; nothing was written (raise --max-size, or 0 for no limit)");
  }

  // The archive, streamed.
  const auto expected = zip::archive_size(plan.entries, options.write);
  shared::progress::Reporter progress(logger, context.progress_mode, "Zipping", "files", 0,
                                      expected.value_or(0));
  zip::WriteResult result;
  if (to_stdout) {
    zip::FdSink out(STDOUT_FILENO, "standard output");
    CountingSink sink(out, progress);
    result = zip::write_archive(std::move(plan.entries), options.write, *bodies, sink);
  } else {
    shared::fs::PartFile file(options.output);
    PartFileSink out(file);
    CountingSink sink(out, progress);
    result = zip::write_archive(std::move(plan.entries), options.write, *bodies, sink);
    file.commit();
  }
  progress.stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string line = "Wrote " + (to_stdout ? std::string("the archive") : options.output) + ": " +
                     format::count(result.entries) + " entries, " +
                     format::bytes(result.archive_size) + " from " +
                     format::bytes(plan.file_bytes) + " of files in " + format::duration(seconds) +
                     " (" + format::rate(plan.file_bytes, seconds) + ")";
  if (plan.skipped > 0) {
    line += ", " + format::count(plan.skipped) + " skipped";
  }
  logger.info(line);
  return shared::error::ExitCode::success;
}

} // namespace tasks::download_dir_zip
