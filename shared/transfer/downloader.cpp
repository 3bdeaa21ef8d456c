#include "shared/transfer/downloader.hpp"

#include "shared/fs/file_copy.hpp"
#include "shared/fs/fingerprint.hpp"
#include "shared/fs/folder.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/relative_path.hpp"
#include "shared/fs/write_loop.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "shared/parallel/thread_starter.hpp"
#include "shared/transfer/following_hasher.hpp"
#include "shared/transfer/part_writer.hpp"

#include <Poco/String.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace shared::transfer {
namespace {

// An item the destination would not be safe to receive.
class Refused : public error::Error {
public:
  explicit Refused(const std::string& message)
      : error::Error(error::ExitCode::items_failed, message) {}
};

void make_folders(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw error::IoError("cannot create " + path + ": " + ec.message());
  }
}

// The destination's folders this run created, and the root when it was empty: no leftover
// part file of an earlier run can be in them. Thread-safe.
class FreshFolders {
public:
  explicit FreshFolders(bool root) : m_root(root) {}

  void created(const std::string& folder) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_folders.insert(folder);
  }

  bool fresh(const std::string& folder) const {
    if (folder.empty()) {
      return m_root;
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_folders.count(folder) != 0;
  }

private:
  bool m_root;
  mutable std::mutex m_mutex;
  std::unordered_set<std::string> m_folders;
};

// Whether a local copy is read and hashed before it is placed (DownloadOptions'
// skip_validation and hash_local_copies).
bool hashed_when_placed(bool skip_validation, bool hash_local_copies, const LocalCopy& copy) {
  return !skip_validation && (!copy.unchanged || hash_local_copies);
}

// Whether `name` in the folder open as `dir_fd` is the regular file (`device`, `inode`); false
// for an unknown inode (0).
bool is_file(int dir_fd, const std::string& name, std::uint64_t device, std::uint64_t inode) {
  struct stat info {};
  return inode != 0 && ::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(info.st_mode) && static_cast<std::uint64_t>(info.st_dev) == device &&
         static_cast<std::uint64_t>(info.st_ino) == inode;
}

// Whether the folder open as `fd` has no entries.
bool is_empty_folder(int fd) {
  std::vector<fs::FolderEntry> entries;
  return fs::read_folder(fd, entries) && entries.empty();
}

// Opens (creating as needed) the folders of a relative path under the destination, one
// segment at a time with O_NOFOLLOW: a symlink on the way refuses the item.
class FolderOpener {
public:
  FolderOpener(int root_fd, FreshFolders& fresh) : m_root_fd(root_fd), m_fresh(fresh) {}
  ~FolderOpener() { forget(); }
  FolderOpener(const FolderOpener&) = delete;
  FolderOpener& operator=(const FolderOpener&) = delete;

  // The descriptor of `folder` ("" for the root). Valid until the next call.
  int open(const std::string& folder) {
    if (folder.empty()) {
      m_is_fresh = m_fresh.fresh(folder);
      return m_root_fd;
    }
    if (m_fd >= 0 && folder == m_folder) {
      return m_fd;
    }
    forget();
    int fd = ::dup(m_root_fd);
    std::size_t start = 0;
    while (start < folder.size()) {
      std::size_t slash = folder.find('/', start);
      if (slash == std::string::npos) {
        slash = folder.size();
      }
      const std::string name = folder.substr(start, slash - start);
      int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(fd, name.c_str(), 0755) == 0) {
          m_fresh.created(folder.substr(0, slash));
        } else if (errno != EEXIST) {
          const int saved = errno;
          ::close(fd);
          throw error::IoError(
              error::system_message("cannot create folder " + folder.substr(0, slash), saved));
        }
        next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (next < 0) {
        const int saved = errno;
        ::close(fd);
        if (saved == ELOOP || saved == ENOTDIR) {
          throw Refused("refused: " + folder.substr(0, slash) +
                        " in the destination is a symlink or a file, not a folder");
        }
        throw error::IoError(
            error::system_message("cannot open folder " + folder.substr(0, slash), saved));
      }
      ::close(fd);
      fd = next;
      start = slash + 1;
    }
    m_fd = fd;
    m_folder = folder;
    m_is_fresh = m_fresh.fresh(folder);
    return m_fd;
  }

  // Whether the folder open() gave last was created by this run (see FreshFolders).
  bool fresh() const { return m_is_fresh; }

private:
  void forget() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = -1;
    m_folder.clear();
  }

  int m_root_fd;
  FreshFolders& m_fresh;
  int m_fd = -1;
  std::string m_folder;
  bool m_is_fresh = false;
};

// Writes a body into "<name>.part", hashing and counting as it goes.
class PartSink : public http::BodySink {
public:
  PartSink(int fd, const std::optional<hash::Digest>& expected, progress::Reporter& progress,
           const std::function<bool()>& cancelled)
      : m_fd(fd), m_hashing(expected.has_value()), m_progress(progress), m_cancelled(cancelled) {}

  void write(const char* data, std::size_t size) override {
    if (m_cancelled && m_cancelled()) {
      throw error::Interrupted();
    }
    if (m_hashing) {
      m_sha256.update(data, size);
    }
    fs::write_all(m_fd, data, size, "the part file");
    m_bytes += size;
    m_progress.add_bytes(size);
  }

  void restart() override {
    m_progress.remove_bytes(m_bytes);
    m_bytes = 0;
    if (m_hashing) {
      m_sha256.finish();
    }
    if (::ftruncate(m_fd, 0) != 0 || ::lseek(m_fd, 0, SEEK_SET) != 0) {
      throw error::IoError(error::system_message("cannot truncate", errno));
    }
  }

  std::uint64_t bytes() const { return m_bytes; }
  hash::Digest digest() { return m_sha256.finish(); }
  /// The digest state of what was written so far.
  const hash::Sha256& hash_state() const { return m_sha256; }

private:
  int m_fd;
  bool m_hashing;
  hash::Sha256 m_sha256;
  std::uint64_t m_bytes = 0;
  progress::Reporter& m_progress;
  const std::function<bool()>& m_cancelled;
};

struct SplitPath {
  std::string folder;
  std::string name;
};

SplitPath split(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return {"", path};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// An item fetched in segments by whichever workers take them. The first to take one creates
// the part file; each segment is written at its offset; the SHA-256 follows the written
// prefix on its own thread (FollowingHasher, which holds back segments far ahead of it); the
// worker that settles the last segment finishes the item.
struct Segmented {
  const source::Item* item = nullptr;
  std::uint64_t size = 0;  // bytes: the listing's, or a first part's Content-Range
  std::vector<Part> parts; // the segments, in order
  std::size_t count = 0;   // segments

  std::mutex mutex; // guards all below
  bool opened = false;
  int dir_fd = -1;                         // the item's folder (a dup), while open
  int fd = -1;                             // the part file, while open
  std::unique_ptr<FollowingHasher> hasher; // when checking the SHA-256, once open
  std::mutex turn;                         // the segments' writes to the part file take turns
  std::size_t settled = 0;                 // segments done, failed or skipped
  bool finished = false;
  std::uint64_t progress_bytes = 0; // written by finished segments
  std::exception_ptr failure;       // the first error of a segment
  bool whole = false;               // fetch the item whole instead (ranges unsupported)

  std::uint64_t offset(std::size_t k) const { return parts[k].offset; }
  std::uint64_t length(std::size_t k) const { return parts[k].length; }

  // Segments of about `segment` bytes, after a first one of `first` bytes (0: none).
  // Segments that size keep the hashed prefix (FollowingHasher) close
  // behind the bytes written: what is left to hash when the last lands is about one segment
  // per worker.
  void divide(std::uint64_t bytes, std::uint64_t segment, std::uint64_t first = 0) {
    size = bytes;
    parts.clear();
    if (first != 0) {
      parts.push_back({0, first});
    }
    const std::uint64_t rest = bytes - first;
    const std::uint64_t pieces = std::max<std::uint64_t>(1, (rest + segment / 2) / segment);
    const std::uint64_t each = (rest + pieces - 1) / pieces;
    for (std::uint64_t at = first; at < bytes; at += each) {
      parts.push_back({at, std::min(each, bytes - at)});
    }
    count = parts.size();
  }
};

// Thrown by Worker::place when the item went on as segments: they count it when it is done.
struct Settled {};

// One unit of work: an item, or one segment of a segmented item.
struct Task {
  const source::Item* item = nullptr;
  Segmented* segmented = nullptr;
  std::size_t segment = 0;
  std::uint64_t cost = 0; // bytes, as a run of tasks counts it (see task_runs)
};

// State shared by the workers of one run.
struct Run {
  Run(const std::vector<Task>& tasks, const DownloadOptions& options, source::Source& source,
      log::Logger& logger, progress::Reporter& progress, int root_fd,
      const source::Listing& listing)
      : tasks(tasks), options(options), source(source), logger(logger), progress(progress),
        root_fd(root_fd), fresh(is_empty_folder(root_fd)), placer(options.link_local_copies),
        listed(listing.items.data()), checked(listing.items.size()) {}

  // `item` (of the listing) is in place and was checked: `print` is its file's fingerprint
  // once complete (see DownloadSummary::checked). One writer per item: no lock.
  void record_checked(const source::Item& item, const std::optional<fs::Fingerprint>& print) {
    checked[static_cast<std::size_t>(&item - listed)] = print;
  }

  const std::vector<Task>& tasks;
  std::size_t fetches = 0; // tasks[0, fetches) are to fetch; the rest have local copies
  // By task: where the run of tasks a worker takes at once starting there ends (see
  // claim()).
  std::vector<std::size_t> run_end;
  const DownloadOptions& options;
  source::Source& source;
  log::Logger& logger;
  progress::Reporter& progress;
  int root_fd;
  FreshFolders fresh;
  fs::FilePlacer placer; // local copies into the destination
  // Makes the SHA-256 threads of segmented items at the run's first priority while the
  // workers yield to them (see download()); null: they are made where they are needed.
  parallel::ThreadStarter* hash_starter = nullptr;
  std::atomic<std::size_t> next{0};
  std::mutex extra_mutex;                  // guards extra and split
  std::condition_variable extra_changed;   // extra grew, every task finished, or stop
  std::deque<Task> extra;                  // segments of items split as they started: taken first
  std::atomic<std::size_t> extra_count{0}; // extra.size(), read without the lock
  std::deque<Segmented> split;             // their states
  std::atomic<std::size_t> finished{0};    // of tasks (a split item: once its segments are out)
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> downloaded{0};
  std::atomic<std::uint64_t> from_cache{0};
  std::atomic<std::uint64_t> bytes_saved{0};
  std::atomic<std::uint64_t> folders{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> retries{0};
  std::vector<std::string_view> paths;                 // every selected item path, sorted
  std::unordered_set<const source::Item*> large;       // unknown size, but large last time
  const source::Item* listed;                          // the listing's first item
  std::vector<std::optional<fs::Fingerprint>> checked; // by listing index

  // Whether `path` is "<another item>.part": writing both would let one clobber the other.
  bool collides_with_part_file(const std::string& path) const {
    const std::size_t suffix = fs::k_part_suffix.size();
    if (path.size() <= suffix ||
        path.compare(path.size() - suffix, suffix, fs::k_part_suffix) != 0) {
      return false;
    }
    return std::binary_search(paths.begin(), paths.end(),
                              std::string_view(path).substr(0, path.size() - suffix));
  }

  std::mutex mutex;
  std::vector<ItemFailure> failures;
  std::exception_ptr fatal;

  // The next tasks to do, [first, end): a run of tasks in one folder (see task_runs), so that
  // workers seldom open each other's folders or take turns on one folder's lock in the
  // kernel. first >= tasks.size(): nothing is left.
  std::pair<std::size_t, std::size_t> claim() {
    std::size_t k = next.load(std::memory_order_relaxed);
    while (k < tasks.size() &&
           !next.compare_exchange_weak(k, run_end[k], std::memory_order_relaxed)) {
    }
    return {k, k < tasks.size() ? run_end[k] : k};
  }

  // Stops the run (a fatal error, or fail-fast) and wakes the workers waiting for segments.
  void stop_now() {
    stop = true;
    wake_waiters();
  }

  // After `stop` or `finished` changed: the lock orders the change before a waiter's check of
  // its predicate, so no wake-up is lost.
  void wake_waiters() {
    { const std::lock_guard<std::mutex> lock(extra_mutex); }
    extra_changed.notify_all();
  }
};

class Worker {
public:
  explicit Worker(Run& run)
      : m_run(run), m_reader(run.source.open_reader()), m_folders(run.root_fd, run.fresh),
        m_random(std::random_device{}()) {}

  void work() {
    for (;;) {
      if (m_run.stop.load(std::memory_order_relaxed)) {
        break;
      }
      if (auto task = extra_task()) {
        segment(*task->segmented, task->segment);
        continue;
      }
      const auto [first, end] = m_run.claim();
      if (first >= m_run.tasks.size()) {
        if (wait_for_extra()) {
          continue;
        }
        break;
      }
      for (std::size_t k = first; k < end && !m_run.stop.load(std::memory_order_relaxed); ++k) {
        // Segments published meanwhile still go first: the SHA-256 may be waiting for them.
        while (auto task = extra_task()) {
          segment(*task->segmented, task->segment);
        }
        if (m_run.tasks[k].segmented != nullptr) {
          segment(*m_run.tasks[k].segmented, m_run.tasks[k].segment);
        } else {
          const source::Item& item = *m_run.tasks[k].item;
          settle(item, [&] { place(item); });
        }
        if (m_run.finished.fetch_add(1) + 1 == m_run.tasks.size()) {
          m_run.wake_waiters();
        }
      }
    }
    m_run.retries += m_reader->retries();
  }

private:
  // Nothing is left to start: waits while a task in flight may still publish segments (any
  // item of unknown size may turn out large, see should_probe), so that every worker takes
  // some; counting only the first parts already asked for would let a worker leave while
  // another has taken the last item but not yet asked. Returns whether there are segments.
  bool wait_for_extra() {
    std::unique_lock<std::mutex> lock(m_run.extra_mutex);
    m_run.extra_changed.wait(lock, [this] {
      return !m_run.extra.empty() || m_run.finished.load() >= m_run.tasks.size() ||
             m_run.stop.load();
    });
    return !m_run.extra.empty();
  }

  // The next published segment, unless its writer would wait for the SHA-256 to catch up
  // (FollowingHasher::ahead) while other work is left to start: that goes first.
  std::optional<Task> extra_task() {
    if (m_run.extra_count.load() == 0) { // the usual case: no lock to take for it
      return std::nullopt;
    }
    std::lock_guard<std::mutex> lock(m_run.extra_mutex);
    if (m_run.extra.empty()) {
      return std::nullopt;
    }
    Task task = m_run.extra.front();
    const Segmented& state = *task.segmented;
    if (state.hasher &&
        state.hasher->ahead(state.offset(task.segment) + state.length(task.segment)) &&
        m_run.next.load(std::memory_order_relaxed) < m_run.tasks.size()) {
      return std::nullopt;
    }
    m_run.extra.pop_front();
    m_run.extra_count.store(m_run.extra.size());
    return task;
  }

  // Whether an item of unknown size should be asked for its first segment only, to fetch
  // the rest in segments when it is large: the source can send ranges, and the item was
  // large last time (the local copies' hint) or no other item is left to start (the other
  // workers would otherwise sit idle while one streams it alone).
  bool should_probe(const source::Item& item) const {
    return !item.size && !item.content && m_run.options.min_segment_size != 0 &&
           m_run.options.parallel > 1 && m_run.source.supports_ranges() &&
           (m_run.large.count(&item) != 0 ||
            m_run.next.load(std::memory_order_relaxed) >= m_run.fetches);
  }

  // Publishes segments 1… of an item whose first `first` bytes are in the part file `fd`
  // (hashed into `sink`'s SHA-256 when checking), `size` bytes in all.
  void continue_in_segments(const source::Item& item, int dir, int fd, const PartSink& sink,
                            std::uint64_t first, std::uint64_t size) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      throw error::IoError(error::system_message("cannot size " + item.path + ".part", errno));
    }
    const int dir_fd = ::dup(dir);
    if (dir_fd < 0) {
      throw error::IoError(error::system_message("cannot open the folder of " + item.path, errno));
    }
    std::lock_guard<std::mutex> lock(m_run.extra_mutex);
    Segmented& state = m_run.split.emplace_back();
    state.item = &item;
    state.divide(size, m_run.options.min_segment_size, first);
    state.opened = true;
    state.dir_fd = dir_fd;
    state.fd = fd; // the state's from here on
    if (checks_hash(item)) {
      state.hasher = std::make_unique<FollowingHasher>(fd, 0, size, state.parts,
                                                       m_run.options.cancelled, m_run.hash_starter);
      state.hasher->assume_hashed(sink.hash_state(), first);
    }
    state.settled = 1;
    state.progress_bytes = first;
    for (std::size_t k = 1; k < state.count; ++k) {
      m_run.extra.push_back({&item, &state, k});
    }
    m_run.extra_count.store(m_run.extra.size());
    m_run.extra_changed.notify_all(); // under the lock: the waiters' predicate reads extra
  }

  // Runs `place_item`: the item is counted when it returns, failed with its error when it
  // throws (but for Interrupted, which stops the run, and Settled: segments count it).
  template <typename Place>
  void settle(const source::Item& item, const Place& place_item) {
    try {
      place_item();
      m_run.progress.add_item();
    } catch (const Settled&) {
    } catch (const error::Interrupted&) {
      throw;
    } catch (const error::Error& e) {
      fail(item, e.what(), e.code());
    } catch (const std::exception& e) {
      fail(item, e.what(), error::ExitCode::items_failed);
    }
  }

  void fail(const source::Item& item, const std::string& message, error::ExitCode code) {
    m_run.logger.error(item.path + ": " + message);
    std::lock_guard<std::mutex> lock(m_run.mutex);
    m_run.failures.push_back({item.path, message, code});
    if (m_run.options.fail_fast) {
      m_run.stop_now();
    }
  }

  // Throws Refused for a path the destination must not receive.
  void check_path(const source::Item& item) const {
    if (auto problem = metadata::unwritable_path_problem(item.path)) {
      throw Refused("refused: " + *problem);
    }
    if (m_run.collides_with_part_file(item.path)) {
      throw Refused("refused: " + item.path + " is the part-file name of " +
                    item.path.substr(0, item.path.size() - fs::k_part_suffix.size()) +
                    ", also in the artifact");
    }
  }

  // Fetches segment k of an item, and finishes the item when it is the last to settle.
  void segment(Segmented& state, std::size_t k) {
    const source::Item& item = *state.item;
    bool interrupted = false;
    std::unique_lock<std::mutex> lock(state.mutex);
    if (!state.failure && !state.whole) {
      try {
        if (!state.opened) {
          open_segmented(state);
        }
        const int fd = state.fd;
        lock.unlock();
        PartWriter sink(fd, 0, k, state.offset(k), state.length(k), state.hasher.get(), &state.turn,
                        &m_run.progress, m_run.options.cancelled);
        try {
          m_reader->fetch_range(item, state.offset(k), state.length(k), sink);
          if (sink.written() != state.length(k)) {
            throw error::IntegrityError("segment at byte " + std::to_string(state.offset(k)) +
                                        ": got " + std::to_string(sink.written()) + " of " +
                                        std::to_string(state.length(k)) + " bytes");
          }
        } catch (...) {
          m_run.progress.remove_bytes(sink.written());
          throw;
        }
        lock.lock();
        state.progress_bytes += sink.written();
      } catch (const source::RangesUnsupported& e) {
        if (!lock.owns_lock()) {
          lock.lock();
        }
        if (!state.whole) {
          m_run.logger.info(item.path + ": " + e.what() + ": fetching it whole");
        }
        state.whole = true;
      } catch (...) {
        if (!lock.owns_lock()) {
          lock.lock();
        }
        try {
          throw;
        } catch (const error::Interrupted&) {
          interrupted = true;
        } catch (...) {
        }
        if (!state.failure) {
          state.failure = std::current_exception();
        }
      }
      if ((state.failure || state.whole) && state.hasher) {
        state.hasher->abandon(); // the segments after this one must not wait for it
      }
    }
    ++state.settled;
    if (state.settled < state.count || state.finished) {
      if (interrupted) {
        throw error::Interrupted();
      }
      return;
    }
    state.finished = true;
    lock.unlock();
    finish_segmented(state);
  }

  // Creates the item's part file, sized. Called with the state's lock held.
  void open_segmented(Segmented& state) {
    const source::Item& item = *state.item;
    state.opened = true;
    check_path(item);
    const SplitPath parts = split(item.path);
    state.dir_fd = ::dup(m_folders.open(parts.folder));
    if (state.dir_fd < 0) {
      throw error::IoError(error::system_message("cannot open the folder of " + item.path, errno));
    }
    const std::string part_name = parts.name + std::string(fs::k_part_suffix);
    state.fd = fs::create_part(state.dir_fd, part_name, item.path + ".part");
    if (::ftruncate(state.fd, static_cast<off_t>(state.size)) != 0) {
      throw error::IoError(error::system_message("cannot size " + item.path + ".part", errno));
    }
    if (checks_hash(item)) {
      state.hasher = std::make_unique<FollowingHasher>(state.fd, 0, state.size, state.parts,
                                                       m_run.options.cancelled, m_run.hash_starter);
    }
  }

  bool checks_hash(const source::Item& item) const {
    return !m_run.options.skip_validation && item.sha256.has_value();
  }

  // Every segment settled: renames the part file into place, or fails the item, or fetches it
  // whole. Runs on one worker, without the lock (nobody else touches the state any more).
  void finish_segmented(Segmented& state) {
    const source::Item& item = *state.item;
    const SplitPath parts = split(item.path);
    const std::string part_name = parts.name + std::string(fs::k_part_suffix);
    std::exception_ptr failure = state.failure;
    bool whole = state.whole;
    if (!failure && !whole && state.hasher) {
      hash::Digest got{};
      try {
        auto digest = state.hasher->finish();
        if (!digest) { // spoiled by a segment written again after it was hashed
          if (::lseek(state.fd, 0, SEEK_SET) != 0) {
            throw error::IoError(
                error::system_message("cannot read " + item.path + ".part", errno));
          }
          digest = m_hasher.hash_fd(state.fd, item.path + ".part").sha256;
        }
        got = *digest;
      } catch (...) {
        failure = std::current_exception();
      }
      if (!failure && got != *item.sha256) {
        m_run.logger.info("retry: " + item.path + ": SHA-256 mismatch of the segments: expected " +
                          hash::to_hex(*item.sha256) + ", got " + hash::to_hex(got) +
                          ": fetching it whole");
        ++m_run.retries;
        whole = true;
      }
    }
    int fd = state.fd;
    state.fd = -1;
    std::optional<fs::Fingerprint> print; // of the checked file, before its name changes
    if (!failure && !whole && state.hasher && fd >= 0) {
      print = fs::Fingerprint::of_descriptor(fd);
    }
    if (fd >= 0 && ::close(fd) != 0 && !failure && !whole) {
      failure = std::make_exception_ptr(
          error::IoError(error::system_message("cannot write " + item.path, errno)));
    }
    const int dir = state.dir_fd;
    state.dir_fd = -1;
    if (!failure && !whole) {
      if (::renameat(dir, part_name.c_str(), dir, parts.name.c_str()) != 0) {
        failure = std::make_exception_ptr(error::IoError(
            error::system_message("cannot rename " + item.path + ".part into place", errno)));
      } else if (print) {
        m_run.record_checked(item, print);
      }
    }
    if (failure || whole) {
      if (dir >= 0) {
        ::unlinkat(dir, part_name.c_str(), 0);
      }
      m_run.progress.remove_bytes(state.progress_bytes);
    }
    if (dir >= 0) {
      ::close(dir);
    }
    settle(item, [&] {
      if (failure) {
        std::rethrow_exception(failure);
      }
      if (whole) {
        place(item, false);
      } else {
        m_run.bytes += state.size;
        ++m_run.downloaded;
      }
    });
  }

  // Places one item: from a local copy, else fetched whole, or (when `may_split` and the
  // store tells a large size, see should_probe) in segments.
  void place(const source::Item& item, bool may_split = true) {
    check_path(item);
    if (item.is_directory) {
      m_folders.open(item.path);
      ++m_run.folders;
      return;
    }
    if (m_run.options.in_place != nullptr && item.sha256) {
      if (const auto bytes = m_run.options.in_place->find(item.path)) {
        m_run.progress.add_bytes(*bytes); // found by the clean: the very file placing makes
        m_run.bytes_saved += *bytes;
        ++m_run.from_cache;
        return;
      }
    }
    const SplitPath parts = split(item.path);
    const int dir = m_folders.open(parts.folder);
    const std::string part_name = parts.name + std::string(fs::k_part_suffix);
    LocalCopies* local = m_run.options.local_copies;
    if (item.sha256 && local != nullptr) {
      if (const auto copy = local->find(item)) {
        try {
          m_run.bytes_saved += place_local_copy(item, dir, parts.name, *copy);
          ++m_run.from_cache;
          return;
        } catch (const error::Interrupted&) {
          throw;
        } catch (const error::IntegrityError& e) {
          m_run.logger.warning("cached copy of " + item.path + " not used (" + e.what() +
                               "): downloading it");
          local->failed(*copy); // its bytes are wrong, not just this placement
        } catch (const error::Error& e) {
          m_run.logger.warning("cached copy of " + item.path + " not used (" + e.what() +
                               "): downloading it");
        }
      }
    }
    bool probe = may_split && should_probe(item); // on the first attempt only
    for (int attempt = 0;; ++attempt) {
      try {
        // A small first part: the segments are published soon (the other workers may be busy
        // placing cached files meanwhile), and most files past it are large ones.
        const std::uint64_t first =
            std::min<std::uint64_t>(m_run.options.min_segment_size, 1u << 20);
        const std::optional<std::uint64_t> bytes =
            fetch_once(item, dir, parts.name, part_name, [&](int fd, PartSink& sink) {
              if (item.content) {
                sink.write(item.content->data(), item.content->size());
              } else if (!probe) {
                m_reader->fetch(item, sink);
              } else {
                const auto size = m_reader->fetch_first(item, first, sink);
                if (size && *size > sink.bytes()) {
                  if (sink.bytes() != first) {
                    throw error::IntegrityError("asked for the first " + std::to_string(first) +
                                                " bytes, got " + std::to_string(sink.bytes()));
                  }
                  continue_in_segments(item, dir, fd, sink, first, *size);
                  return false; // the segments finish it
                }
              }
              return true;
            });
        if (!bytes) {
          throw Settled{};
        }
        m_run.bytes += *bytes;
        ++m_run.downloaded;
        return;
      } catch (const source::RangesUnsupported& e) {
        m_run.logger.info(item.path + ": " + e.what() + ": fetching it whole");
        probe = false;
        --attempt; // this one did not count
        continue;
      } catch (const error::IntegrityError& e) {
        if (attempt >= m_run.options.retry.retries) {
          throw;
        }
        probe = false;
        ++m_run.retries;
        const double delay = http::backoff_delay(m_run.options.retry, attempt + 1, m_random);
        m_run.logger.info("retry " + std::to_string(attempt + 1) + "/" +
                          std::to_string(m_run.options.retry.retries) + ": " + item.path + ": " +
                          e.what());
        http::sleep_unless_cancelled(delay, m_run.options.cancelled);
      }
    }
  }

  // Places a local copy of the item, checked as the options say; returns the bytes placed.
  std::uint64_t place_local_copy(const source::Item& item, int dir, const std::string& name,
                                 const LocalCopy& copy) {
    const auto& options = m_run.options;
    const bool hashed =
        hashed_when_placed(options.skip_validation, options.hash_local_copies, copy);
    // The copy's print before its hash, to see that what was placed is what was hashed.
    const auto before = hashed ? fs::Fingerprint::of(copy.path) : std::nullopt;
    if (hashed) {
      const hash::FileHash got = m_hasher.hash_file(copy.path, [this](std::size_t) {
        if (m_run.options.cancelled && m_run.options.cancelled()) {
          throw error::Interrupted();
        }
      });
      if (got.sha256 != *item.sha256) {
        throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*item.sha256) +
                                    ", got " + hash::to_hex(got.sha256));
      }
    }
    if (item.size) {
      struct stat info {};
      const bool known = copy.size.has_value();
      if ((!known && ::stat(copy.path.c_str(), &info) != 0) ||
          (known ? *copy.size : static_cast<std::uint64_t>(info.st_size)) != *item.size) {
        throw error::IntegrityError("size mismatch: expected " + std::to_string(*item.size) +
                                    " bytes");
      }
    }
    std::uint64_t bytes = 0;
    if (options.link_local_copies && !m_folders.fresh() && copy.size &&
        is_file(dir, name, copy.device, copy.inode)) {
      bytes = *copy.size; // a hard link of the copy already: as placing makes
    } else {
      fs::PlaceHints hints{copy.size, m_folders.fresh()};
      if (copy.folder_fd >= 0 && !copy.name.empty()) {
        hints.from_dir = copy.folder_fd;
        hints.from_name = copy.name.c_str();
      }
      bytes = m_run.placer.place(copy.path, dir, name, hints).bytes;
    }
    if (hashed && before && fs::Fingerprint::of(copy.path) == before) { // unchanged throughout
      m_run.record_checked(item, fs::Fingerprint::of(dir, name));
    }
    m_run.progress.add_bytes(bytes);
    return bytes;
  }

  // Writes one attempt at the item through its part file and renames it into place; returns
  // the bytes placed, or nullopt when `fetch` returned false: it handed the part file (its
  // descriptor, open for reading and writing) over to segments, which finish the item.
  std::optional<std::uint64_t> fetch_once(const source::Item& item, int dir,
                                          const std::string& name, const std::string& part_name,
                                          const std::function<bool(int fd, PartSink&)>& fetch) {
    // A part file or symlink left at the part name by anyone is replaced, never followed.
    int fd = fs::create_part(dir, part_name, item.path + std::string(fs::k_part_suffix));
    const std::optional<hash::Digest> expected =
        m_run.options.skip_validation ? std::nullopt : item.sha256;
    PartSink sink(fd, expected, m_run.progress, m_run.options.cancelled);
    std::optional<fs::Fingerprint> print; // of the checked file, before its name changes
    try {
      if (!fetch(fd, sink)) {
        return std::nullopt;
      }
      if (item.size && sink.bytes() != *item.size) {
        throw error::IntegrityError("size mismatch: expected " + std::to_string(*item.size) +
                                    " bytes, got " + std::to_string(sink.bytes()));
      }
      if (expected) {
        const hash::Digest got = sink.digest();
        if (got != *expected) {
          throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*expected) +
                                      ", got " + hash::to_hex(got));
        }
      }
      if (expected) {
        print = fs::Fingerprint::of_descriptor(fd);
      }
      const int closing = fd;
      fd = -1; // closed even when close() fails: never close it twice
      if (::close(closing) != 0) {
        throw error::IoError(error::system_message("cannot write " + item.path, errno));
      }
    } catch (...) {
      if (fd >= 0) {
        ::close(fd);
      }
      m_run.progress.remove_bytes(sink.bytes());
      ::unlinkat(dir, part_name.c_str(), 0);
      throw;
    }
    if (::renameat(dir, part_name.c_str(), dir, name.c_str()) != 0) {
      const int saved = errno;
      ::unlinkat(dir, part_name.c_str(), 0);
      throw error::IoError(
          error::system_message("cannot rename " + item.path + ".part into place", saved));
    }
    if (print) {
      m_run.record_checked(item, print);
    }
    return sink.bytes();
  }

  Run& m_run;
  std::unique_ptr<source::Reader> m_reader;
  hash::FileHasher m_hasher;
  FolderOpener m_folders;
  std::mt19937_64 m_random;
};

// The work in order: each item, or for a large item to fetch whose share of the bytes to
// fetch is more than one worker's, its segments (about min_segment bytes each) in its place.
// `items[0, fetches)` are fetched from the source; the rest have local copies.
std::vector<Task> plan_tasks(const std::vector<const source::Item*>& items,
                             const std::vector<std::uint64_t>& costs, std::size_t fetches,
                             const DownloadOptions& options, std::uint64_t min_segment,
                             std::deque<Segmented>& segmented) {
  std::uint64_t to_fetch = 0;
  for (std::size_t i = 0; i < fetches; ++i) {
    to_fetch += items[i]->size.value_or(0);
  }
  const auto splittable = [&](std::size_t i) {
    const source::Item* item = items[i];
    return min_segment != 0 && i < fetches && !item->is_directory && !item->content && item->size &&
           *item->size >= 2 * min_segment;
  };
  std::vector<Task> tasks;
  tasks.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const source::Item* item = items[i];
    // Worth splitting when its share of the bytes is (rounded) more than one worker's.
    const bool split = splittable(i) &&
                       static_cast<long double>(*item->size) / to_fetch * options.parallel >= 1.5L;
    if (!split) {
      tasks.push_back({item, nullptr, 0, costs[i]});
      continue;
    }
    Segmented& state = segmented.emplace_back();
    state.item = item;
    state.divide(*item->size, min_segment);
    for (std::size_t k = 0; k < state.count; ++k) {
      tasks.push_back({item, &state, k, state.length(k)});
    }
  }
  return tasks;
}

// Run::run_end for `tasks`, whose local copies' tasks start at `fetches`: consecutive tasks
// in one folder, of one kind, in runs of at most 4 MiB after the first (a run is one worker's
// for a while) and at most 128 local copies or, so that every worker has some, a quarter of
// `fetches / workers` tasks to fetch. A segment is a run of its own.
std::vector<std::size_t> task_runs(const std::vector<Task>& tasks, std::size_t fetches,
                                   unsigned workers) {
  constexpr std::uint64_t k_bytes = 4u << 20;
  const std::size_t most_fetches = std::max<std::size_t>(1, fetches / (4 * std::max(1u, workers)));
  constexpr std::size_t k_most_local = 128;
  const auto folder = [](const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string_view()
                                      : std::string_view(path).substr(0, slash);
  };
  std::vector<std::size_t> ends(tasks.size());
  std::size_t start = 0;
  std::uint64_t bytes = 0;
  for (std::size_t k = 0; k <= tasks.size(); ++k) {
    const bool joins = k > start && k < tasks.size() && (k < fetches) == (start < fetches) &&
                       tasks[k].segmented == nullptr && tasks[start].segmented == nullptr &&
                       k - start < (k < fetches ? most_fetches : k_most_local) &&
                       tasks[k].cost <= k_bytes - bytes &&
                       folder(tasks[k].item->path) == folder(tasks[start].item->path);
    if (joins) {
      bytes += tasks[k].cost;
      continue;
    }
    std::fill(ends.begin() + static_cast<std::ptrdiff_t>(start),
              ends.begin() + static_cast<std::ptrdiff_t>(k), k);
    start = k;
    bytes = k < tasks.size() ? std::min(tasks[k].cost, k_bytes) : 0;
  }
  return ends;
}

} // namespace

error::ExitCode DownloadSummary::exit_code() const {
  if (failures.empty()) {
    return error::ExitCode::success;
  }
  for (const auto& failure : failures) {
    if (failure.code == error::ExitCode::integrity) {
      return error::ExitCode::integrity;
    }
  }
  return error::ExitCode::items_failed;
}

void InPlace::add(const std::string& path, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_bytes.emplace(path, bytes);
}

std::optional<std::uint64_t> InPlace::find(const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_bytes.find(path);
  return found == m_bytes.end() ? std::nullopt : std::optional<std::uint64_t>(found->second);
}

KeepFile placed_local_copies(const source::Listing& listing, const DownloadOptions& options,
                             InPlace* in_place) {
  if (options.local_copies == nullptr || !options.link_local_copies) {
    return {}; // copies are never hard links: a link left by a run that made them goes
  }
  auto items = std::make_shared<std::unordered_map<std::string, const source::Item*>>();
  for (const auto& item : listing.items) {
    if (item.sha256 && !item.is_directory && options.patterns.matches(item.path)) {
      items->emplace(item.path, &item);
    }
  }
  LocalCopies* local = options.local_copies;
  const bool skip_validation = options.skip_validation;
  const bool hash_local_copies = options.hash_local_copies;
  return [items, local, in_place, skip_validation, hash_local_copies](
             const std::string& path, int dir_fd, const char* name, const FileId* id) {
    const auto item = items->find(path);
    if (item == items->end()) {
      return false;
    }
    const auto copy = local->find(*item->second);
    if (!copy || copy->inode == 0 ||
        (id != nullptr ? id->device != copy->device || id->inode != copy->inode
                       : !is_file(dir_fd, name, copy->device, copy->inode))) {
      return false;
    }
    // Nothing left to check when place_local_copy() would not hash it: it is in place.
    const auto& size = item->second->size;
    if (in_place != nullptr && !hashed_when_placed(skip_validation, hash_local_copies, *copy) &&
        copy->size && (!size || *size == *copy->size)) {
      in_place->add(path, *copy->size);
    }
    return true;
  };
}

DownloadSummary download(source::Source& source, const source::Listing& listing,
                         const DownloadOptions& options, log::Logger& logger) {
  const auto start = std::chrono::steady_clock::now();
  DownloadSummary summary;

  // Select, de-duplicate, and order: items to fetch from the source before those with a local
  // copy (the network's latency overlaps the local work), and largest known sizes first, so
  // no worker is left alone with a big file at the end.
  std::vector<const source::Item*> items;
  items.reserve(listing.items.size());
  for (const auto& item : listing.items) {
    if (options.patterns.matches(item.path)) {
      items.push_back(&item);
    } else {
      ++summary.skipped;
    }
  }
  const auto by_path = [](const source::Item* a, const source::Item* b) {
    return a->path < b->path;
  };
  if (!std::is_sorted(items.begin(), items.end(), by_path)) { // a metadata file is, already
    std::sort(items.begin(), items.end(), by_path);
  }
  items.erase(
      std::unique(items.begin(), items.end(),
                  [](const source::Item* a, const source::Item* b) { return a->path == b->path; }),
      items.end());
  std::vector<std::string_view> paths; // sorted, before the items are ordered for the work
  paths.reserve(items.size());
  for (const auto* item : items) {
    paths.emplace_back(item->path);
  }
  // Each item's place in the work, worked out once. Sizes to order by: the listed one, else
  // the local copies' hint (an earlier version's).
  struct Place {
    const source::Item* item;
    std::uint64_t weight; // bytes
    bool local;           // placed from a local copy
  };
  std::vector<Place> places;
  places.reserve(items.size());
  std::vector<std::pair<const source::Item*, std::uint64_t>> hints;
  for (const auto* item : items) {
    const bool local =
        options.local_copies != nullptr && item->sha256 && options.local_copies->has(*item->sha256);
    std::uint64_t weight = item->size.value_or(0);
    if (!item->size && !local && options.local_copies != nullptr) {
      if (const auto hint = options.local_copies->size_hint(*item)) {
        weight = *hint;
        hints.emplace_back(item, *hint);
      }
    }
    places.push_back({item, weight, local});
  }
  std::stable_sort(places.begin(), places.end(), [](const Place& a, const Place& b) {
    return a.local != b.local ? !a.local : a.weight > b.weight;
  });
  std::size_t fetches = 0;
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < places.size(); ++i) {
    items[i] = places[i].item;
    fetches += places[i].local ? 0 : 1;
    total_bytes += items[i]->size.value_or(0);
  }
  make_folders(options.destination);
  const int root_fd = ::open(options.destination.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    throw error::IoError(error::system_message("cannot open " + options.destination, errno));
  }
  // What a task weighs in a run of tasks (task_runs): its bytes, as known or hinted; nothing for
  // a local copy hard-linked within one filesystem, which costs the same at any size; unknown:
  // too much to share a run.
  struct stat root {};
  const bool linked = options.link_local_copies && options.local_copies != nullptr &&
                      ::fstat(root_fd, &root) == 0 &&
                      options.local_copies->device() == static_cast<std::uint64_t>(root.st_dev);
  std::vector<std::uint64_t> costs(places.size());
  for (std::size_t i = 0; i < places.size(); ++i) {
    const Place& place = places[i];
    costs[i] = place.local && linked ? 0
               : place.item->size    ? *place.item->size
               : place.weight != 0   ? place.weight
                                     : std::numeric_limits<std::uint64_t>::max();
  }
  std::deque<Segmented> segmented;
  const std::vector<Task> tasks =
      plan_tasks(items, costs, fetches, options,
                 source.supports_ranges() ? options.min_segment_size : 0, segmented);
  progress::Reporter progress(logger, options.progress, "Downloading", "files", items.size(),
                              total_bytes);
  Run run(tasks, options, source, logger, progress, root_fd, listing);
  run.fetches = tasks.size() - (items.size() - fetches); // the local copies' tasks are last
  run.run_end = task_runs(tasks, run.fetches, options.parallel);
  run.paths = std::move(paths);
  for (const auto& [item, hint] : hints) {
    if (hint >= 2 * options.min_segment_size) {
      run.large.insert(item);
    }
  }
  const auto body = [&run] {
    try {
      Worker(run).work();
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(run.mutex);
        if (!run.fatal) {
          run.fatal = std::current_exception();
        }
      }
      run.stop_now();
    }
  };
  const unsigned threads = static_cast<unsigned>(
      std::max<std::size_t>(1, std::min<std::size_t>(options.parallel, tasks.size())));
  // A segmented item's SHA-256 runs on one thread that can be no faster than one core, and
  // every other worker is done before it when the CPU, not the network, is what is short:
  // then the workers run a few nice levels below it, and this thread, left at the priority
  // the run began with, makes the hash threads (a thread inherits its maker's priority) and
  // does none of the work itself.
  const bool yield =
      threads > 1 && !options.skip_validation &&
      (std::any_of(segmented.begin(), segmented.end(),
                   [](const Segmented& state) { return state.item->sha256.has_value(); }) ||
       std::any_of(run.large.begin(), run.large.end(),
                   [](const source::Item* item) { return item->sha256.has_value(); }));
  parallel::ThreadStarter starter;
  std::atomic<std::size_t> workers_done{0};
  run.hash_starter = yield ? &starter : nullptr;
  std::vector<std::thread> pool;
  try {
    for (unsigned t = yield ? 0 : 1; t < threads; ++t) {
      pool.emplace_back([&, yield] {
        if (yield) {
          parallel::lower_priority(parallel::k_yield_steps);
        }
        body();
        ++workers_done;
        starter.wake();
      });
    }
  } catch (const std::system_error& e) { // fewer threads than asked: go on with those we have
    logger.warning(std::string("started ") + std::to_string(pool.size() + (yield ? 0 : 1)) +
                   " of " + std::to_string(threads) + " workers: " + e.what());
  }
  if (yield && !pool.empty()) {
    starter.serve([&] { return workers_done.load() == pool.size(); });
  } else {
    body();
  }
  for (auto& thread : pool) {
    thread.join();
  }
  progress.stop();
  const auto remove_unfinished = [](Segmented& state) {
    if (state.dir_fd >= 0) {
      if (state.fd >= 0) {
        ::close(state.fd);
      }
      ::unlinkat(state.dir_fd,
                 (split(state.item->path).name + std::string(fs::k_part_suffix)).c_str(), 0);
      ::close(state.dir_fd);
    }
  };
  for (auto& state : segmented) { // left unfinished by a stop: no part file stays behind
    remove_unfinished(state);
  }
  for (auto& state : run.split) {
    remove_unfinished(state);
  }
  ::close(root_fd);
  if (run.fatal) {
    std::rethrow_exception(run.fatal);
  }

  summary.downloaded = run.downloaded;
  summary.from_cache = run.from_cache;
  summary.bytes_saved = run.bytes_saved;
  summary.folders = run.folders;
  summary.bytes = run.bytes;
  summary.retries = run.retries;
  summary.failures = std::move(run.failures);
  summary.checked = std::move(run.checked);
  std::sort(summary.failures.begin(), summary.failures.end(),
            [](const ItemFailure& a, const ItemFailure& b) { return a.path < b.path; });
  const std::size_t done =
      summary.downloaded + summary.from_cache + summary.folders + summary.failures.size();
  summary.not_attempted = items.size() > done ? items.size() - done : 0;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

} // namespace shared::transfer
