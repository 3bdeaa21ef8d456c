#include "shared/transfer/worker.hpp"

#include <algorithm>

namespace shared::transfer {

Worker::Worker(const WorkerShared& common)
    : m_shared(common), m_run(common.run), m_reader(common.source.open_reader()),
      m_folders(common.destination), m_fetcher(*m_reader, common.run),
      m_copies(common.placer, common.run) {}

void Worker::work() {
  while (const std::optional<Task> task = m_shared.queue.next()) {
    if (task->segmented != nullptr) {
      fetch_segment(*task->segmented, task->segment);
    } else {
      const source::Item& item = *task->item;
      run_item(item, [&] { return download_item(item, true) == Result::complete; });
    }
    m_shared.queue.done(*task);
  }
  m_run.tally.retries += m_reader->retries();
}

// Runs `download`, which returns whether it completed the item (false: segments complete it and
// count it then). An error fails the item, but error::Interrupted stops the run.
void Worker::run_item(const source::Item& item, const std::function<bool()>& download) {
  try {
    if (download()) {
      m_run.progress.add_item();
    }
  } catch (const error::Interrupted&) {
    throw;
  } catch (const error::Error& e) {
    fail(item, e.what(), e.code());
  } catch (const std::exception& e) {
    fail(item, e.what(), error::ExitCode::items_failed);
  }
}

// Fetches segment k of an item, and finishes the item when it is the last to end: in place,
// or fetched whole instead.
void Worker::fetch_segment(SegmentedItem& segmented, std::size_t k) {
  const source::Item& item = segmented.item();
  const auto open_folder = [&] {
    m_shared.destination.check_path(item.path);
    return m_folders.open(split_path(item.path).folder);
  };
  if (segmented.fetch_segment(k, *m_reader, open_folder, m_run)) {
    run_item(item, [&] {
      return segmented.finish(m_run) || download_item(item, false) == Result::complete;
    });
  }
}

// Downloads one item: an empty folder, a file already in place, a local copy, else fetched (in
// segments when `may_split` and it turns out large, see should_probe).
Worker::Result Worker::download_item(const source::Item& item, bool may_split) {
  m_shared.destination.check_path(item.path);
  if (item.is_directory) {
    m_folders.open(item.path);
    ++m_run.tally.folders;
    return Result::complete;
  }
  if (m_copies.in_place(item)) {
    return Result::complete;
  }
  const SplitPath path = split_path(item.path);
  const int folder = m_folders.open(path.folder);
  if (m_copies.place(item, folder, path.name, m_folders.fresh())) {
    return Result::complete;
  }
  return fetch(item, folder, path.name, may_split);
}

// Fetches the item whole, or, when it should be probed and turns out larger than its first
// bytes, publishes the rest as segments.
Worker::Result Worker::fetch(const source::Item& item, int folder, const std::string& name,
                             bool may_split) {
  const DownloadOptions& options = m_run.options;
  // A small first part: the segments are published soon (the other workers may be busy
  // placing local copies meanwhile), and most files past it are large ones.
  const std::uint64_t probe = may_split && should_probe(item)
                                  ? std::min<std::uint64_t>(options.min_segment_size, 1u << 20)
                                  : 0;
  std::optional<FirstSegment> first = m_fetcher.fetch(item, folder, name, probe);
  if (!first) {
    return Result::complete;
  }
  SegmentedItem& segmented =
      m_shared.queue.add_segmented(item, first->size, options.min_segment_size, first->bytes);
  segmented.continue_from(std::move(*first), m_run);
  m_shared.queue.publish(segmented, 1);
  return Result::in_segments;
}

// Whether an item of unknown size should be asked for its first segment only, to fetch the
// rest in segments when it is large: the source can send ranges, and the item was large last
// time (the local copies' hint) or no other item is left to fetch (the other workers would
// otherwise sit idle while one streams it alone).
bool Worker::should_probe(const source::Item& item) const {
  const DownloadOptions& options = m_run.options;
  return !item.size && !item.content && options.min_segment_size != 0 && options.parallel > 1 &&
         m_shared.source.supports_ranges() &&
         (m_shared.plan.large.count(&item) != 0 || m_shared.queue.fetches_started());
}

void Worker::fail(const source::Item& item, const std::string& message, error::ExitCode code) {
  m_run.logger.error(item.path + ": " + message);
  m_run.tally.fail(item, message, code);
  if (m_run.options.fail_fast) {
    m_shared.queue.stop();
  }
}

} // namespace shared::transfer
