#include "shared/transfer/segmented_item.hpp"

#include "shared/fs/part_file.hpp"
#include "shared/transfer/destination.hpp"
#include "shared/transfer/part_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <unistd.h>
#include <utility>

namespace shared::transfer {
namespace {

// Segments of about `segment` bytes covering `size` bytes, after a first one of `first` bytes
// (0: none). Segments that size keep the hashed prefix (FollowingHasher) close behind the bytes
// written: what is left to hash when the last lands is about one segment per worker.
std::vector<Part> divide(std::uint64_t size, std::uint64_t segment, std::uint64_t first) {
  std::vector<Part> parts;
  if (first != 0) {
    parts.push_back({0, first});
  }
  const std::uint64_t rest = size - first;
  const std::uint64_t pieces = std::max<std::uint64_t>(1, (rest + segment / 2) / segment);
  const std::uint64_t each = (rest + pieces - 1) / pieces;
  for (std::uint64_t at = first; at < size; at += each) {
    parts.push_back({at, std::min(each, size - at)});
  }
  return parts;
}

} // namespace

SegmentedItem::SegmentedItem(const source::Item& item, std::uint64_t size,
                             std::uint64_t segment_size, std::uint64_t first)
    : m_item(item), m_size(size), m_parts(divide(size, segment_size, first)) {}

SegmentedItem::SegmentedItem(const source::Item& item, std::vector<Part> parts, std::uint64_t base,
                             OnMismatch on_mismatch)
    : m_item(item), m_size(parts.empty() ? 0 : parts.back().offset + parts.back().length),
      m_parts(std::move(parts)), m_base(base), m_on_mismatch(on_mismatch) {}

SegmentedItem::~SegmentedItem() {
  m_hasher.reset(); // stops its thread, which reads the part file (deleted after it)
}

void SegmentedItem::continue_from(FirstSegment first, const RunContext& run) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_opened = true;
  m_part.emplace(std::move(first.part));
  m_ended = 1;
  m_progress_bytes = first.bytes;
  if (first.prefix) {
    m_hasher = std::make_unique<FollowingHasher>(m_part->descriptor(), 0, m_size, m_parts,
                                                 run.options.cancelled);
    m_hasher->assume_hashed(*first.prefix, first.bytes);
  }
}

void SegmentedItem::start_in(fs::PartFile part, const RunContext& run) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_opened = true;
  m_part.emplace(std::move(part));
  prepare(run);
}

bool SegmentedItem::hash_would_wait(std::size_t k) const {
  return m_hasher && m_hasher->ahead(m_parts[k].offset + m_parts[k].length);
}

bool SegmentedItem::fetch_segment(std::size_t k, source::Reader& reader,
                                  const std::function<int()>& open_folder, const RunContext& run) {
  bool interrupted = false;
  try {
    write_segment(k, reader, open_folder, run);
  } catch (const source::RangesUnsupported& e) {
    fetch_whole_instead(e.what(), run);
  } catch (const error::Interrupted&) {
    interrupted = true;
    fail(std::current_exception());
  } catch (...) {
    fail(std::current_exception());
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  ++m_ended;
  if (m_ended < m_parts.size() || m_finished) {
    if (interrupted) {
      throw error::Interrupted();
    }
    return false;
  }
  m_finished = true;
  return true;
}

// Fetches segment k into the part file, opening it first when no segment has; skipped when the
// item failed or goes whole.
void SegmentedItem::write_segment(std::size_t k, source::Reader& reader,
                                  const std::function<int()>& open_folder, const RunContext& run) {
  int fd = -1;
  FollowingHasher* hasher = nullptr;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_failure || m_whole) {
      return;
    }
    if (!m_opened) {
      open(open_folder, run);
    }
    fd = m_part->descriptor();
    hasher = m_hasher.get();
  }
  const Part part = m_parts[k];
  PartWriter sink(fd, m_base, k, part.offset, part.length, hasher, &run.progress,
                  run.options.cancelled);
  try {
    reader.fetch_range(m_item, part.offset, part.length, sink);
    if (sink.written() != part.length) {
      throw error::IntegrityError("segment at byte " + std::to_string(part.offset) + ": got " +
                                  std::to_string(sink.written()) + " of " +
                                  std::to_string(part.length) + " bytes");
    }
  } catch (...) {
    run.progress.remove_bytes(sink.written());
    throw;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  m_progress_bytes += sink.written();
}

// Creates the item's part file, sized, in the folder `open_folder` gives. Under the lock.
void SegmentedItem::open(const std::function<int()>& open_folder, const RunContext& run) {
  m_opened = true;
  m_part.emplace(open_folder(), split_path(m_item.path).name, m_item.path, fs::Durability::none);
  prepare(run);
}

// Sizes the open part file and starts the SHA-256 thread when the hash is checked. Under the
// lock.
void SegmentedItem::prepare(const RunContext& run) {
  if (::ftruncate(m_part->descriptor(), static_cast<off_t>(m_base + m_size)) != 0) {
    throw error::IoError(error::system_message("cannot size " + m_part->part_path(), errno));
  }
  if (run.checks_hash(m_item)) {
    m_hasher = std::make_unique<FollowingHasher>(m_part->descriptor(), m_base, m_size, m_parts,
                                                 run.options.cancelled);
  }
}

// A segment failed: the item fails with the first such error; the rest are skipped.
void SegmentedItem::fail(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!m_failure) {
    m_failure = error;
  }
  if (m_hasher) {
    m_hasher->abandon(); // the segments after this one must not wait for it
  }
}

// The store cannot send ranges: the rest are skipped and the item is fetched whole.
void SegmentedItem::fetch_whole_instead(const std::string& why, const RunContext& run) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!m_whole) {
    run.logger.info(m_item.path + ": " + why + ": fetching it whole");
  }
  m_whole = true;
  if (m_hasher) {
    m_hasher->abandon();
  }
}

bool SegmentedItem::finish(const RunContext& run) {
  // Every segment ended: no other worker touches the item any more.
  std::exception_ptr failure = m_failure;
  bool whole = m_whole;
  if (!failure && !whole) {
    try {
      whole = !hash_matches(run);
      if (!whole) {
        rename_into_place(run);
      }
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (failure || whole) {
    m_hasher.reset(); // stops its thread, which reads the part file
    run.progress.remove_bytes(m_progress_bytes);
  }
  m_part.reset(); // deletes it unless renamed into place
  if (failure) {
    std::rethrow_exception(failure);
  }
  if (!whole) {
    run.tally.bytes += m_size;
    ++run.tally.downloaded;
  }
  return !whole;
}

// Whether the part file's SHA-256 is the item's (true when not checked). A mismatch fails the
// item, or is logged and counted as a retry: the item is fetched whole (see OnMismatch).
bool SegmentedItem::hash_matches(const RunContext& run) {
  if (!m_hasher) {
    return true;
  }
  const hash::Digest digest = m_hasher->finish_or_read_again(m_part->part_path());
  run.logger.debug(
      m_item.path + ": SHA-256: " + std::to_string(m_hasher->left()) +
      " bytes left to read after the last segment" +
      (m_hasher->read_again() ? "; read again (a segment it had read was restarted)" : ""));
  if (digest == *m_item.sha256) {
    return true;
  }
  if (m_on_mismatch == OnMismatch::fail) {
    throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*m_item.sha256) +
                                ", got " + hash::to_hex(digest));
  }
  run.logger.info("retry: " + m_item.path + ": SHA-256 mismatch of the segments: expected " +
                  hash::to_hex(*m_item.sha256) + ", got " + hash::to_hex(digest) +
                  ": fetching it whole");
  ++run.tally.retries;
  return false;
}

// Renames the complete part file into place.
void SegmentedItem::rename_into_place(const RunContext& run) {
  std::optional<fs::Fingerprint> fingerprint; // of the checked file, before its name changes
  if (m_hasher) {
    fingerprint = fs::Fingerprint::of_descriptor(m_part->descriptor());
  }
  m_part->commit();
  if (fingerprint) {
    run.tally.record_checked(m_item, fingerprint);
  }
}

} // namespace shared::transfer
