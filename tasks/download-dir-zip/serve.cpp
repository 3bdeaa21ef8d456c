#include "tasks/download-dir-zip/serve.hpp"

#include "shared/error/error.hpp"
#include "shared/format/units.hpp"
#include "shared/server/signed_link.hpp"
#include "shared/task/http_inputs.hpp"
#include "shared/task/interrupt.hpp"
#include "tasks/download-dir-zip/serve_jobs.hpp"

#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <thread>

namespace tasks::download_dir_zip {

ServeOptions serve_options_from_inputs(const shared::task::Inputs& inputs) {
  ServeOptions options;
  options.archive.root = inputs.text("root");
  options.archive.archive_name = inputs.text("archiveName");
  if (options.archive.archive_name.empty() ||
      options.archive.archive_name.find('/') != std::string::npos) {
    throw shared::error::UsageError("--archive-name: \"" + options.archive.archive_name +
                                    "\" must be a file name without /");
  }
  options.archive.max_download_size = inputs.size("maxDownloadSize");
  options.archive.store_symlinks = inputs.text("symlinks") == "store";
  options.archive.deflate_level = static_cast<int>(inputs.integer("compressionLevel"));
  auto& service = options.service;
  service.host = inputs.text("host");
  service.port = static_cast<std::uint16_t>(inputs.integer("port"));
  service.threads = static_cast<int>(inputs.integer("threads"));
  service.queue = static_cast<int>(inputs.integer("queue"));
  service.timeout = static_cast<int>(inputs.integer("timeout"));
  service.secret = inputs.text("secret");
  service.log_requests = inputs.boolean("logRequests");
  if (inputs.boolean("enableResponseDelay")) {
    service.chunk_delay = inputs.number("responseDelay");
    if (service.chunk_delay < 0) {
      throw shared::error::UsageError("--response-delay: must not be negative");
    }
  }
  options.db = inputs.text("db");
  options.store = inputs.text("store");
  options.ttl = static_cast<std::int64_t>(inputs.number("ttl"));
  options.workers = static_cast<int>(inputs.integer("workers"));
  options.sign = inputs.text("sign");
  options.sign_ttl = inputs.integer("signTtl");
  if (!options.sign.empty() && (service.secret.empty() || options.sign.front() != '/')) {
    throw shared::error::UsageError(
        "--sign: needs --secret and a path starting with / (e.g. /archive/<name>/)");
  }
  return options;
}

shared::error::ExitCode run_serve(const shared::task::TaskContext& context) {
  const ServeOptions options = serve_options_from_inputs(context.inputs);
  shared::log::Logger& logger = context.logger;
  if (!options.sign.empty()) {
    const auto expires = static_cast<std::int64_t>(std::time(nullptr)) + options.sign_ttl;
    std::cout << shared::server::sign_link(options.service.secret, options.sign, expires)
              << std::endl;
    return shared::error::ExitCode::success;
  }
  std::signal(SIGPIPE, SIG_IGN); // a client that goes away is an error on write, not a kill

  ArchiveRoutes archives(options.archive, logger); // checks --root before anything is created
  // The asynchronous archives: the queue, the store, the routes and this service's zippers.
  jobs::JobStoreOptions job_options;
  job_options.ttl = options.ttl;
  const auto job_store = jobs::JobStore::open(options.db, job_options);
  shared::store::StoreContext store_context;
  store_context.http = shared::task::http_options_from_inputs(context.inputs, logger);
  store_context.http.cancelled = [] { return shared::task::interrupted(); };
  store_context.logger = &logger;
  const auto store = shared::store::make_store(options.store, store_context);

  JobRoutes job_routes({options.archive.root, options.archive.max_download_size}, *job_store,
                       *store, logger);
  shared::server::Router router;
  archives.register_routes(router);
  job_routes.register_routes(router);
  // Later features register their routes here, on the same router.

  jobs::WorkerOptions worker_options;
  worker_options.root = options.archive.root;
  worker_options.worker_id = jobs::default_worker_id();
  worker_options.stop = [] { return shared::task::interrupted(); };
  InProcessWorkers workers(options.workers, worker_options, *job_store, *store, logger);

  shared::server::Service service(router, options.service, logger);
  logger.info("Listening on http://" + options.service.host + ":" + std::to_string(service.port()) +
              "/ serving " + options.archive.root +
              (options.service.secret.empty() ? "" : " (signed links only)") + "; jobs in " +
              job_store->backend() + ", archives in " + store->describe() + ", " +
              std::to_string(options.workers) + " in-process workers");
  while (!shared::task::interrupted()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  logger.info("Stopping: closing connections");
  service.stop();
  workers.stop();
  logger.info("Stopped (" + shared::format::count(archives.crc_cache().size()) +
              " CRC-32s were cached)");
  return shared::error::ExitCode::success;
}

} // namespace tasks::download_dir_zip
