// download(): the listing planned, the destination opened, and workers taking the planned
// tasks from one queue until it is empty.
#include "shared/transfer/downloader.hpp"

#include "shared/fs/file_copy.hpp"
#include "shared/parallel/for_each_index.hpp"
#include "shared/transfer/destination.hpp"
#include "shared/transfer/download_plan.hpp"
#include "shared/transfer/tally.hpp"
#include "shared/transfer/work_queue.hpp"
#include "shared/transfer/worker.hpp"

#include <algorithm>
#include <chrono>

namespace shared::transfer {

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

DownloadSummary download(source::Source& source, const source::Listing& listing,
                         const DownloadOptions& options, log::Logger& logger) {
  const auto start = std::chrono::steady_clock::now();
  const DownloadPlan plan = plan_download(listing, options);
  Destination destination(options.destination, plan.paths);
  WorkQueue queue;
  plan_tasks(plan, options, source.supports_ranges(), queue);
  progress::Reporter progress(logger, options.progress, "Downloading", "files", plan.items.size(),
                              plan.bytes);
  Tally tally(listing);
  const RunContext run{options, logger, progress, tally};
  fs::FilePlacer placer(options.link_local_copies);
  const WorkerShared common{queue, destination, source, placer, plan, run};
  const std::size_t workers =
      std::max<std::size_t>(1, std::min<std::size_t>(options.parallel, queue.planned()));
  // One worker a thread; the first error that is no item's stops the others and is thrown.
  parallel::for_each_index(workers, workers - 1, [&common](std::size_t) {
    try {
      Worker(common).work();
    } catch (...) {
      common.queue.stop();
      throw;
    }
  });
  progress.stop();

  DownloadSummary summary = tally.summary(plan.items.size());
  summary.skipped = plan.skipped;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

} // namespace shared::transfer
