#include "tasks/generate-metadata/generate_metadata.hpp"

#include "shared/format/units.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/tree_walker.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/log/limited_warnings.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "shared/task/interrupt.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace tasks::generate_metadata {
namespace {

using shared::fs::EntryKind;
using shared::fs::LinkStatus;
using shared::fs::TreeEntry;

constexpr std::size_t k_warnings_shown = 10;

struct FileId {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileId& o) const { return device == o.device && inode == o.inode; }
};

std::optional<FileId> identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// A file to hash: its path relative to the root and its size when listed.
struct Item {
  std::string path;
  std::uint64_t size = 0;
};

std::string link_problem(const TreeEntry& entry) {
  switch (entry.link_status) {
  case LinkStatus::not_followed:
    return "followSymlinks is off";
  case LinkStatus::outside_root:
    return "it leads outside rootPath";
  case LinkStatus::dangling:
    return "its target does not exist";
  case LinkStatus::loop:
    return "it leads back into a folder above it";
  case LinkStatus::none:
    break;
  }
  return "not followed";
}

// Walks the tree and keeps the files to hash, warning about what is left out.
std::vector<Item> list_files(const Options& options, const std::vector<FileId>& never_list,
                             shared::log::Logger& logger, std::uint64_t& skipped) {
  std::vector<Item> items;
  shared::log::LimitedWarnings link_warnings(logger, k_warnings_shown);
  shared::log::LimitedWarnings other_warnings(logger, k_warnings_shown);
  const auto visit = [&](const TreeEntry& entry) {
    shared::task::throw_if_interrupted();
    switch (entry.kind) {
    case EntryKind::folder:
      return;
    case EntryKind::symlink:
      if (options.patterns.matches(entry.path)) {
        link_warnings.warn("skipped symlink " + entry.path + " -> " + entry.link_target + ": " +
                           link_problem(entry));
      }
      return;
    case EntryKind::other:
      if (options.patterns.matches(entry.path)) {
        other_warnings.warn("skipped " + entry.path + ": not a regular file");
      }
      return;
    case EntryKind::file:
      break;
    }
    const FileId id{entry.device, entry.inode};
    if (entry.path == shared::metadata::k_file_name ||
        std::find(never_list.begin(), never_list.end(), id) != never_list.end()) {
      return;
    }
    if (!options.patterns.matches(entry.path)) {
      return;
    }
    if (auto problem = shared::metadata::unwritable_path_problem(entry.path)) {
      other_warnings.warn("skipped " + entry.path + ": " + *problem);
      return;
    }
    items.push_back({entry.path, entry.size});
  };
  shared::fs::walk_tree(options.root_path, {options.follow_symlinks}, visit);
  link_warnings.finish("symlinks skipped");
  other_warnings.finish("files skipped");
  skipped = link_warnings.count() + other_warnings.count();
  return items;
}

// Hashes every item on `parallel` threads, largest files first so that no thread is left
// alone with a big file at the end. Results land at the item's index.
std::vector<shared::metadata::Entry> hash_items(const Options& options,
                                                const std::vector<Item>& items,
                                                shared::progress::Reporter& progress,
                                                std::uint64_t& bytes) {
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return items[a].size > items[b].size; });

  std::vector<shared::metadata::Entry> entries(items.size());
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> total_bytes{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  const auto worker = [&] {
    try {
      shared::hash::FileHasher hasher;
      const auto on_read = [&progress](std::size_t bytes) {
        progress.add_bytes(bytes);
        shared::task::throw_if_interrupted();
      };
      for (;;) {
        const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);
        if (k >= order.size() || failed.load(std::memory_order_relaxed)) {
          return;
        }
        shared::task::throw_if_interrupted();
        const Item& item = items[order[k]];
        const auto result = hasher.hash_file(options.root_path + "/" + item.path, on_read);
        entries[order[k]] = {item.path, result.sha256};
        total_bytes.fetch_add(result.size, std::memory_order_relaxed);
        progress.add_item();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) {
        first_error = std::current_exception();
      }
      failed = true;
    }
  };

  const unsigned threads =
      static_cast<unsigned>(std::min<std::size_t>(options.parallel, items.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker(); // the calling thread works too
  for (auto& thread : pool) {
    thread.join();
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
  bytes = total_bytes.load();
  return entries;
}

} // namespace

Options options_from_inputs(const shared::task::Inputs& inputs) {
  Options options;
  const auto& root = inputs.value("rootPath");
  options.root_path = root.text;
  while (options.root_path.size() > 1 && options.root_path.back() == '/') {
    options.root_path.pop_back();
  }
  struct stat st {};
  if (::stat(options.root_path.c_str(), &st) != 0) {
    throw shared::error::UsageError(root.origin + ": \"" + root.text + "\" does not exist");
  }
  if (!S_ISDIR(st.st_mode)) {
    throw shared::error::UsageError(root.origin + ": \"" + root.text + "\" is not a folder");
  }
  options.output = inputs.has("output")
                       ? inputs.text("output")
                       : options.root_path + "/" + std::string(shared::metadata::k_file_name);
  try {
    options.patterns = shared::glob::PatternSet(inputs.lines("include"), inputs.lines("exclude"));
  } catch (const std::invalid_argument& e) {
    throw shared::error::UsageError("--include/--exclude: " + std::string(e.what()));
  }
  const auto parallel = inputs.integer("parallel");
  options.parallel = parallel > 0 ? static_cast<unsigned>(parallel)
                                  : std::max(1u, std::thread::hardware_concurrency());
  options.follow_symlinks = inputs.boolean("followSymlinks");
  return options;
}

Summary generate(const Options& options, shared::log::Logger& logger, shared::progress::Mode mode) {
  const auto start = std::chrono::steady_clock::now();
  // The part file exists before the walk, so the walk can recognise it (and the output
  // itself) by identity however the paths are spelled.
  shared::fs::PartFile csv(options.output);
  std::vector<FileId> never_list;
  for (const auto& path : {csv.part_path(), csv.final_path()}) {
    if (auto id = identity(path)) {
      never_list.push_back(*id);
    }
  }

  Summary summary;
  const std::vector<Item> items = list_files(options, never_list, logger, summary.skipped);
  std::uint64_t listed_bytes = 0;
  for (const auto& item : items) {
    listed_bytes += item.size;
  }
  logger.debug("listed " + std::to_string(items.size()) + " files, " +
               shared::format::bytes(listed_bytes));

  std::vector<shared::metadata::Entry> entries;
  {
    shared::progress::Reporter progress(logger, mode, "Hashing", "files", items.size(),
                                        listed_bytes);
    entries = hash_items(options, items, progress, summary.bytes);
  }
  shared::task::throw_if_interrupted();
  csv.write(shared::metadata::to_csv(std::move(entries)));
  csv.commit();

  summary.files = items.size();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

shared::error::ExitCode run(const shared::task::TaskContext& context) {
  const Options options = options_from_inputs(context.inputs);
  const Summary summary = generate(options, context.logger, context.progress_mode);
  std::string line = "Wrote " + options.output + ": " + shared::format::count(summary.files) +
                     " files, " + shared::format::bytes(summary.bytes) + " in " +
                     shared::format::duration(summary.seconds) + " (" +
                     shared::format::rate(summary.bytes, summary.seconds) + ")";
  if (summary.skipped > 0) {
    line += ", " + shared::format::count(summary.skipped) + " skipped";
  }
  context.logger.info(line);
  return shared::error::ExitCode::success;
}

} // namespace tasks::generate_metadata
