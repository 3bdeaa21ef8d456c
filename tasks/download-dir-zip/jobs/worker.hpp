// `download-dir-zip worker`: the loop that claims jobs, zips them into the object store,
// renews the lease while it works and records the result.
#pragma once

#include "shared/error/error.hpp"
#include "shared/log/logger.hpp"
#include "shared/store/object_store.hpp"
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/jobs/job_store.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace tasks::download_dir_zip::jobs {

/// How a worker runs.
struct WorkerOptions {
  std::string root;                ///< jobs' folders are relative to it
  std::string worker_id;           ///< recorded on claimed jobs
  std::int64_t lease = 60;         ///< seconds; renewed every lease/3
  double poll = 1;                 ///< seconds between looks at an empty queue
  bool once = false;               ///< exit when nothing is queued or running
  std::uint64_t max_rate = 0;      ///< bytes per second per job; 0: no limit
  std::int64_t cleanup_every = 60; ///< seconds between cleanup() runs
  /// Polled between jobs, while waiting and while zipping: true stops the worker (SIGTERM).
  std::function<bool()> stop;
};

/// What a worker did.
struct WorkerSummary {
  std::uint64_t done = 0;     ///< jobs finished
  std::uint64_t failed = 0;   ///< jobs failed
  std::uint64_t lost = 0;     ///< leases lost mid-job (another worker took over)
  std::uint64_t released = 0; ///< jobs given back on stop
  std::uint64_t cleaned = 0;  ///< expired jobs deleted
};

/// "<hostname>:<pid>", the name a worker records on the jobs it claims unless told otherwise.
std::string default_worker_id();

/// Claims and processes one job; false when none was claimable. A job that fails (a missing
/// folder, a file that changed, a store error) is recorded as failed with its message; a stop
/// request mid-job puts it back in the queue. Throws the job store's errors.
bool work_one(JobStore& jobs, shared::store::ObjectStore& store, const WorkerOptions& options,
              shared::log::Logger& logger, WorkerSummary& summary);

/// The loop: cleanup every cleanup_every seconds, claim, process, wait `poll` when idle, until
/// options.stop() or (once) an idle queue. Returns what it did.
WorkerSummary run_worker(JobStore& jobs, shared::store::ObjectStore& store,
                         const WorkerOptions& options, shared::log::Logger& logger);

/// The task body of `download-dir-zip worker` (task-manifests/download-dir-zip-worker.yml).
shared::error::ExitCode worker_task(const shared::task::TaskContext& context);

} // namespace tasks::download_dir_zip::jobs
