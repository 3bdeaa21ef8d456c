// One worker of a download: takes tasks from the work queue one at a time and downloads their
// items (an empty folder, a local copy, or a fetch, whole or in segments). Internal to the
// download engine.
#pragma once

#include "shared/fs/file_copy.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/destination.hpp"
#include "shared/transfer/download_plan.hpp"
#include "shared/transfer/local_copies.hpp"
#include "shared/transfer/tally.hpp"
#include "shared/transfer/whole_fetch.hpp"
#include "shared/transfer/work_queue.hpp"

#include <functional>
#include <memory>

namespace shared::transfer {

/// What the workers of one download share.
struct WorkerShared {
  WorkQueue& queue;
  Destination& destination;
  source::Source& source;
  fs::FilePlacer& placer; ///< local copies into the destination
  const DownloadPlan& plan;
  const RunContext& run;
};

/// A worker with its own reader (connection) of the source.
class Worker {
public:
  /// Opens a reader of the source (throws what Source::open_reader throws).
  explicit Worker(const WorkerShared& common);

  /// Takes and does tasks until none is left or the run stops. An item's failure is counted
  /// in the tally (and stops the run under fail_fast); error::Interrupted and errors that are
  /// no item's are thrown.
  void work();

private:
  // How downloading an item ended: complete, or handed over to segments, which complete it.
  enum class Result { complete, in_segments };

  void run_item(const source::Item& item, const std::function<bool()>& download);
  void fetch_segment(SegmentedItem& segmented, std::size_t k);
  Result download_item(const source::Item& item, bool may_split);
  Result fetch(const source::Item& item, int folder, const std::string& name, bool may_split);
  bool should_probe(const source::Item& item) const;
  void fail(const source::Item& item, const std::string& message, error::ExitCode code);

  const WorkerShared& m_shared;
  const RunContext& m_run;
  std::unique_ptr<source::Reader> m_reader;
  FolderOpener m_folders;
  WholeFetcher m_fetcher;
  LocalCopyPlacer m_copies;
};

} // namespace shared::transfer
