// download-dir-zip serve: the asynchronous routes ("prepare the zip, then give me a
// URL") on the job queue of jobs/: submit a folder, poll its job, download the finished archive
// from the local store; and the service's own zippers (in-process workers on the same queue).
#pragma once

#include "shared/log/logger.hpp"
#include "shared/server/router.hpp"
#include "shared/store/object_store.hpp"
#include "tasks/download-dir-zip/jobs/job_store.hpp"
#include "tasks/download-dir-zip/jobs/worker.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace tasks::download_dir_zip {

/// What the asynchronous routes need to know.
struct JobRoutesOptions {
  std::string root;                    ///< the folder jobs are relative to ("{id}/{path}")
  std::uint64_t max_download_size = 0; ///< bytes of files a job may zip; 0 = no limit
};

/// The asynchronous routes. `jobs` and `store` must outlive it; thread-safe.
class JobRoutes {
public:
  JobRoutes(JobRoutesOptions options, jobs::JobStore& jobs, shared::store::ObjectStore& store,
            shared::log::Logger& logger);

  /// Registers on `router`:
  ///   POST /v4/builds/{id}/artifacts/{path+}?type=download&dir=true&async=true
  ///                                 queues <root>/<id>/<path>/ as <last>_dir.zip
  ///   POST /v4/builds/{id}/artifacts?async=true   queues all of <root>/<id>/ as
  ///                                 <id>_artifacts.zip
  ///   POST /archives                the folder named by the JSON body {"build": "<id>",
  ///                                 "path": "<a/b>"} ("path" optional: the whole build)
  ///   GET  /archives/{jobId}        the job (jobs::job_json)
  ///   GET  /downloads/{name}        a finished archive of the local store, with Range
  /// The POST routes need signed links when the service has a secret; the job and download
  /// routes are reached by the job's random id. Answers: 201 with Location and
  /// {"id","status","statusUrl",…}; 400 bad request (JSON, query, segment); 404 no such
  /// folder, job or archive; 413 over the size limit (JSON, as the synchronous routes).
  void register_routes(shared::server::Router& router);

private:
  void submit(shared::server::Exchange& exchange, const std::string& folder,
              const std::string& name);
  void post_archives(shared::server::Exchange& exchange);
  void get_job(shared::server::Exchange& exchange);
  void download(shared::server::Exchange& exchange);

  JobRoutesOptions m_options;
  jobs::JobStore& m_jobs;
  shared::store::ObjectStore& m_store;
  shared::log::Logger& m_logger;
};

/// `count` workers (jobs::run_worker) on threads of their own, zipping the service's queue;
/// stop() (or the destructor) asks them to stop and joins them (a running job goes back to
/// the queue).
class InProcessWorkers {
public:
  /// `options.stop` is extended with this object's own stop flag; each worker's id gets
  /// "/<index>" appended.
  InProcessWorkers(int count, jobs::WorkerOptions options, jobs::JobStore& jobs,
                   shared::store::ObjectStore& store, shared::log::Logger& logger);
  ~InProcessWorkers();
  InProcessWorkers(const InProcessWorkers&) = delete;
  InProcessWorkers& operator=(const InProcessWorkers&) = delete;

  void stop();

private:
  std::atomic<bool> m_stop{false};
  std::vector<std::thread> m_threads;
};

} // namespace tasks::download_dir_zip
