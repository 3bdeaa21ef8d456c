// download-dir-zip serve: the archive service (on-the-fly archives and the
// synchronous directory-download API). See task-manifests/download-dir-zip-serve.yml.
#pragma once

#include "shared/server/service.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/serve_routes.hpp"

#include <cstdint>
#include <string>

namespace tasks::download_dir_zip {

/// Everything the service needs, from the inputs.
struct ServeOptions {
  ArchiveOptions archive;
  shared::server::ServiceOptions service;
  std::string db;               ///< job database (jobs::JobStore::open)
  std::string store;            ///< object store (shared::store::make_store)
  std::int64_t ttl = 86400;     ///< seconds a finished archive lives
  int workers = 1;              ///< in-process zippers; 0: only `download-dir-zip worker`s
  std::string sign;             ///< non-empty: print this path signed and exit
  std::int64_t sign_ttl = 3600; ///< seconds
};

/// Options from the inputs of task-manifests/download-dir-zip-serve.yml. Throws
/// shared::error::UsageError naming the input.
ServeOptions serve_options_from_inputs(const shared::task::Inputs& inputs);

/// The body of `download-dir-zip serve`: opens the job database and the object store, starts
/// the in-process workers and the service, logs "Listening on
/// http://<host>:<port>/", answers until SIGINT or SIGTERM, then stops it (running answers end
/// at their next write), then the workers (a running job goes back to the queue), and returns
/// success. Throws shared::error::UsageError for a bad --db or --store.
shared::error::ExitCode run_serve(const shared::task::TaskContext& context);

} // namespace tasks::download_dir_zip
