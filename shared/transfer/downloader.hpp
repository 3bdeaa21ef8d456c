// The transfer engine: brings a listing's items from a source into a destination folder.
//
// Workers take tasks one at a time from one queue (work_queue.hpp), in the order the plan gives
// (download_plan.hpp). Each file is written as "<name>.part" and renamed when complete and
// checked; a failed item's part file is deleted; a leftover part file is replaced. Where the
// listing gives a SHA-256 it is computed as the bytes stream (unless skip_validation), and where
// it gives a size the written size must match; a mismatch deletes the file and fetches the item
// again, then fails it as an integrity error (whole_fetch.hpp). Items with a local copy
// (LocalCopies, the incremental cache) are placed from it, after the items to fetch have
// started; a copy is hashed unless known unchanged (local_copies.hpp). A large item may be
// fetched in segments by several workers at once (Range requests written at their offsets into
// the part file); its SHA-256 is then computed in order as the segments before the hashed point
// complete, and a store that cannot send ranges gets the item whole (segmented_item.hpp). An
// item path that could land outside the destination (absolute, ".", "..", a drive letter, a
// backslash, or through a symlink already in the destination) is refused and nothing is written
// (destination.hpp).
#pragma once

#include "shared/error/error.hpp"
#include "shared/fs/fingerprint.hpp"
#include "shared/glob/glob.hpp"
#include "shared/http/retry.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/clean_folder.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace shared::transfer {

/// A file on this machine with an item's content.
struct LocalCopy {
  std::string path;       ///< absolute, or relative to the working directory
  bool unchanged = false; ///< as it was when last hashed (its fingerprint): not hashed again
  /// Bytes, when find() has just found it a regular file of that size (lstat(2)), so that
  /// placing it need not look again; nullopt: unknown.
  std::optional<std::uint64_t> size;
  std::uint64_t device = 0; ///< st_dev and st_ino of the copy, which a destination file that is
  std::uint64_t inode = 0;  ///< a hard link of it shares (0: unknown)
  /// The copy is also `name` in the folder open as `folder_fd` (-1: not given), which outlives
  /// the download: placing it walks that shorter path.
  int folder_fd = -1;
  std::string name;
};

/// Files already on this machine that can stand for items (the incremental cache). Called
/// from many workers at once.
class LocalCopies {
public:
  virtual ~LocalCopies() = default;
  /// Whether there may be a copy of an item with this hash, without touching the disk (used
  /// to fetch items from the source first and place local copies while they stream).
  virtual bool has(const hash::Digest& sha256) const = 0;
  /// A copy of the item (which has a SHA-256), or nullopt.
  virtual std::optional<LocalCopy> find(const source::Item& item) const = 0;
  /// A copy find() gave failed its hash or size check; the item was fetched from the source
  /// instead.
  virtual void failed(const LocalCopy& copy) = 0;
  /// The size in bytes an earlier version of the item had (e.g. the cached file at its path),
  /// or nullopt. Only orders and splits the work (a large item starts first, in segments); it
  /// is never taken as the item's size.
  virtual std::optional<std::uint64_t> size_hint(const source::Item& /*item*/) const {
    return std::nullopt;
  }
};

/// Destination files found to be their items' local copies already (hard links of them,
/// unchanged, of the right size) while the destination was cleaned: item path → bytes.
/// download() counts them as placed from the local copies without looking again.
/// Thread-safe.
class InPlace {
public:
  /// Records `path` (relative to the destination) as in place with `bytes`; the first
  /// record of a path stays.
  void add(const std::string& path, std::uint64_t bytes);
  /// The bytes recorded for `path`, or nullopt.
  std::optional<std::uint64_t> find(const std::string& path) const;

private:
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, std::uint64_t> m_bytes;
};

/// How to download.
struct DownloadOptions {
  std::string destination = "."; ///< created when missing
  glob::PatternSet patterns;     ///< which item paths to download
  unsigned parallel = 8;         ///< workers, each with its own reader (connection)
  http::RetryPolicy retry;       ///< item retries after an integrity failure
  bool fail_fast = false;        ///< stop at the first failed item
  progress::Mode progress = progress::Mode::off;
  std::function<bool()> cancelled; ///< polled; true stops the run with error::Interrupted
  /// Copies of items already on this machine, or null. Tried before the source; a copy that
  /// fails its check is fetched instead. Not owned.
  LocalCopies* local_copies = nullptr;
  /// Hash local copies even when they are known unchanged.
  bool hash_local_copies = false;
  /// Place local copies by hard link when no reflink can be made (see fs::FilePlacer).
  bool link_local_copies = false;
  /// Skip the SHA-256 checks (of downloads and of local copies); sizes are still checked.
  bool skip_validation = false;
  /// Files already in place (see placed_local_copies: found while cleaning this destination
  /// for this listing with these options), or null. Not owned; must outlive download().
  const InPlace* in_place = nullptr;
  /// Smallest segment, in bytes, of an item fetched in parts (0: never). When the source
  /// supports ranges, an item of at least twice this size whose share of the bytes to fetch
  /// is larger than one worker's is split into that many segments (at most size / this), so
  /// that one large changed file does not leave the other workers idle.
  std::uint64_t min_segment_size = 4ull << 20;
};

/// One item that could not be downloaded.
struct ItemFailure {
  std::string path;
  std::string message;
  error::ExitCode code = error::ExitCode::items_failed;
};

/// What a download did.
struct DownloadSummary {
  std::uint64_t downloaded = 0;    ///< files placed from the source
  std::uint64_t from_cache = 0;    ///< files placed from local copies
  std::uint64_t bytes_saved = 0;   ///< bytes placed from local copies
  std::uint64_t folders = 0;       ///< empty folders created
  std::uint64_t skipped = 0;       ///< items left out by the patterns
  std::uint64_t not_attempted = 0; ///< items left when fail_fast stopped the run
  std::uint64_t bytes = 0;         ///< bytes downloaded from the source into placed files
  std::uint64_t retries = 0;       ///< request and item retries
  double seconds = 0;
  std::vector<ItemFailure> failures;
  /// One per listing item, in the listing's order: the fingerprint of the file this download
  /// placed at the item's path and checked against its SHA-256 (downloaded, or a local copy
  /// hashed as it was placed), taken once the file was complete; nullopt for every other
  /// item. A file whose fingerprint is still this one is the file that was checked.
  std::vector<std::optional<fs::Fingerprint>> checked;

  /// success; integrity when an item failed its hash or size check; else items_failed.
  error::ExitCode exit_code() const;
};

/// Downloads every item of `listing` that the patterns select. Item failures are collected in
/// the summary (and logged); throws error::Interrupted when cancelled (part files removed) and
/// error::IoError when the destination cannot be created.
DownloadSummary download(source::Source& source, const source::Listing& listing,
                         const DownloadOptions& options, log::Logger& logger);

/// For clean_folder(): the destination's files that are already hard links of the local
/// copies the download would place at their paths (items with a SHA-256 that `options`
/// selects), so that removing and placing them again would make the very same file. Empty
/// without local copies or when they are not placed by hard link (a link left by an earlier
/// run is then replaced by a file of its own). Each such file that would be placed without
/// being hashed is added to `in_place` (may be null), for DownloadOptions::in_place.
KeepFile placed_local_copies(const source::Listing& listing, const DownloadOptions& options,
                             InPlace* in_place = nullptr);

} // namespace shared::transfer
