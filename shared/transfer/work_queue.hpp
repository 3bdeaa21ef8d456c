// The work of one download, shared by its workers: the planned tasks in order, and the
// segments of large items published while the run goes. Internal to the download engine.
#pragma once

#include "shared/source/source.hpp"
#include "shared/transfer/segmented_item.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace shared::transfer {

/// One unit of work: an item, or one segment of a segmented item.
struct Task {
  const source::Item* item = nullptr;
  SegmentedItem* segmented = nullptr; ///< when a segment
  std::size_t segment = 0;            ///< its index
  bool published = false;             ///< a segment published at run time (not a planned task)
};

/// The tasks of a download and the segmented items they write. Workers take one task at a
/// time: published segments first (the SHA-256 following an item's segments may be waiting
/// for them), then the planned tasks in order. Thread-safe once the run starts.
class WorkQueue {
public:
  /// Planning (before the workers start): `item` is one task, after the tasks planned so far.
  void plan_item(const source::Item& item);
  /// Planning: `item` of `size` bytes is fetched in segments of about `segment_size` bytes.
  void plan_segments(const source::Item& item, std::uint64_t size, std::uint64_t segment_size);
  /// Planning: the tasks planned so far fetch from the source; the later ones place local copies.
  void end_fetches() { m_fetches = m_tasks.size(); }
  /// Tasks planned.
  std::size_t planned() const { return m_tasks.size(); }

  /// The next task: a published segment, unless its writer would wait for the SHA-256 to catch
  /// up while planned tasks are left to start (see FollowingHasher), else the next planned task.
  /// When none is left, waits while the tasks in flight may still publish segments (an item of
  /// unknown size may turn out large), so that every worker takes some. nullopt: the work is
  /// done, or stopped.
  std::optional<Task> next();
  /// A task next() gave is done (for a planned item: placed, failed, or handed over to segments).
  void done(const Task& task);

  /// At run time: a new segmented item (see SegmentedItem's constructor), not yet published.
  SegmentedItem& add_segmented(const source::Item& item, std::uint64_t size,
                               std::uint64_t segment_size, std::uint64_t first);
  /// At run time: publishes the segments of `item` from `first` on.
  void publish(SegmentedItem& item, std::size_t first);

  /// Whether every planned task that fetches from the source has been started.
  bool fetches_started() const;

  /// Stops the run: next() returns nullopt from now on.
  void stop();

private:
  mutable std::mutex m_mutex;        // guards everything below but what planning alone writes
  std::condition_variable m_changed; // a segment published, every planned task done, or stop
  std::vector<Task> m_tasks;         // planned, in order
  std::size_t m_fetches = 0;         // m_tasks[0, m_fetches) fetch from the source
  std::size_t m_next = 0;            // of m_tasks
  std::size_t m_done = 0;            // of m_tasks
  std::deque<Task> m_published;
  std::deque<SegmentedItem> m_segmented; // planned and published (references stay valid)
  bool m_stopped = false;
};

} // namespace shared::transfer
