// A large item fetched in ranged segments by several workers at once (HTTP Range requests,
// RFC 9110 §14), each written at its offset into the item's part file. Internal to the
// download engine.
#pragma once

#include "shared/fs/part_file.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/following_hasher.hpp"
#include "shared/transfer/tally.hpp"
#include "shared/transfer/whole_fetch.hpp"

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace shared::transfer {

/// The state of an item fetched in segments by whichever workers take them. The first segment
/// fetched creates the part file (unless the item started with a FirstSegment, or the caller
/// gave it one: start_in, as download_ranged does for a DRS object); the SHA-256
/// follows the written prefix on its own thread (FollowingHasher, which holds back segments far
/// ahead of it); the worker whose segment ends last finishes the item. A failed segment
/// fails the item (the segments after it are skipped); a store that cannot send ranges gets
/// the item fetched whole. An unfinished item's part file is deleted when it is destroyed.
/// Thread-safe.
class SegmentedItem {
public:
  /// What finish() does when the SHA-256 of the segments is not the item's.
  enum class OnMismatch {
    fetch_whole, ///< deletes the part file and returns false (a retry, counted in the tally)
    fail,        ///< throws error::IntegrityError
  };

  /// `item`, `size` bytes, in segments of about `segment_size` bytes after a first one of
  /// `first` bytes (0: none).
  SegmentedItem(const source::Item& item, std::uint64_t size, std::uint64_t segment_size,
                std::uint64_t first);
  /// `item` in the segments `parts` (in order, covering its size), written after the first
  /// `base` bytes of the part file (a head written by the caller, not part of the item).
  SegmentedItem(const source::Item& item, std::vector<Part> parts, std::uint64_t base,
                OnMismatch on_mismatch);
  ~SegmentedItem();
  SegmentedItem(const SegmentedItem&) = delete;
  SegmentedItem& operator=(const SegmentedItem&) = delete;

  const source::Item& item() const { return m_item; }
  /// Segments.
  std::size_t count() const { return m_parts.size(); }

  /// The item's first segment is `first` (its first bytes, of the constructor's `first`):
  /// takes over its part file. Call before publishing the other segments. Throws
  /// error::IoError when the SHA-256 thread cannot start.
  void continue_from(FirstSegment first, const RunContext& run);

  /// Fetches the segments into `part` (its first base bytes already written): sizes it and
  /// starts the SHA-256 thread when the hash is checked. Call before any fetch_segment().
  /// Throws error::IoError.
  void start_in(fs::PartFile part, const RunContext& run);

  /// Whether the SHA-256, once finish() returned, had to read the part file again (a segment
  /// it had read was restarted).
  bool hash_read_again() const { return m_hasher && m_hasher->read_again(); }

  /// Whether the writer of segment `k` would wait now for the SHA-256 to catch up.
  bool hash_would_wait(std::size_t k) const;

  /// Fetches segment `k` into the part file through `reader`, unless the item failed or goes
  /// whole; the first segment fetched creates the part file in the folder `open_folder` gives
  /// (which may throw, e.g. Refused). Returns whether this was the last segment to end: the
  /// caller then calls finish(). A segment's error is the item's (finish() throws it), but
  /// error::Interrupted is also thrown here.
  bool fetch_segment(std::size_t k, source::Reader& reader, const std::function<int()>& open_folder,
                     const RunContext& run);

  /// Once every segment ended: checks the SHA-256 (read again when spoiled, see FollowingHasher),
  /// renames the part file into place and counts the item in the tally (returns true); or
  /// deletes the part file and returns false when the item is to be fetched whole instead (the
  /// store cannot send ranges, or the SHA-256 did not match: a retry). Throws the first error
  /// of a segment, or error::IoError.
  bool finish(const RunContext& run);

private:
  void write_segment(std::size_t k, source::Reader& reader, const std::function<int()>& open_folder,
                     const RunContext& run);
  void open(const std::function<int()>& open_folder, const RunContext& run);
  void prepare(const RunContext& run);
  void fail(std::exception_ptr error);
  void fetch_whole_instead(const std::string& why, const RunContext& run);
  bool hash_matches(const RunContext& run);
  void rename_into_place(const RunContext& run);

  const source::Item& m_item;
  std::uint64_t m_size; // bytes: the listing's, or the first segment's Content-Range
  std::vector<Part> m_parts;
  std::uint64_t m_base = 0; // bytes of the part file before the item's
  OnMismatch m_on_mismatch = OnMismatch::fetch_whole;

  mutable std::mutex m_mutex; // guards everything below (finish() runs alone)
  bool m_opened = false;
  std::optional<fs::PartFile> m_part;        // once open; deleted unless renamed into place
  std::unique_ptr<FollowingHasher> m_hasher; // when checking the SHA-256, once open
  std::size_t m_ended = 0;                   // segments fetched, failed or skipped
  bool m_finished = false;
  std::uint64_t m_progress_bytes = 0; // written by the segments fetched
  std::exception_ptr m_failure;       // the first error of a segment
  bool m_whole = false;               // fetch the item whole instead (ranges unsupported)
};

} // namespace shared::transfer
