#include "tasks/download-dir-zip/jobs/worker.hpp"

#include "shared/format/units.hpp"
#include "shared/task/http_inputs.hpp"
#include "shared/task/interrupt.hpp"
#include "tasks/download-dir-zip/jobs/zipper.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace tasks::download_dir_zip::jobs {
namespace {

namespace format = shared::format;
using Clock = std::chrono::steady_clock;

constexpr double k_database_retry = 5; // seconds between tries while the database fails

bool stopping(const WorkerOptions& options) {
  return options.stop && options.stop();
}

// Renews a claim's lease every third of it on a thread of its own while a job is zipped;
// lost() turns true when a renewal says the lease is gone, or when renewals kept failing
// until the lease ran out.
class Heartbeat {
public:
  Heartbeat(JobStore& jobs, const Claim& claim, std::int64_t lease, shared::log::Logger& logger)
      : m_jobs(jobs), m_claim(claim), m_lease(lease), m_logger(logger),
        m_thread([this] { run(); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_done = true;
    }
    m_wake.notify_all();
    m_thread.join();
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  bool lost() const { return m_lost; }

private:
  void run() {
    const auto interval =
        std::chrono::milliseconds(std::max<std::int64_t>(m_lease * 1000 / 3, 100));
    auto last_renewal = Clock::now();
    std::unique_lock<std::mutex> lock(m_mutex);
    while (!m_wake.wait_for(lock, interval, [this] { return m_done; })) {
      lock.unlock();
      try {
        if (m_jobs.renew(m_claim, m_lease)) {
          last_renewal = Clock::now();
        } else {
          m_logger.warning("job " + m_claim.job.id + ": the lease was lost; stopping it");
          m_lost = true;
        }
      } catch (const std::exception& e) {
        m_logger.warning("job " + m_claim.job.id + ": cannot renew the lease: " + e.what());
        if (Clock::now() - last_renewal >= std::chrono::seconds(m_lease)) {
          m_lost = true;
        }
      }
      lock.lock();
      if (m_lost) {
        return;
      }
    }
  }

  JobStore& m_jobs;
  const Claim& m_claim;
  std::int64_t m_lease;
  shared::log::Logger& m_logger;
  std::atomic<bool> m_lost{false};
  bool m_done = false;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::thread m_thread;
};

// Sleeps `seconds`, waking early on a stop request.
void wait(double seconds, const WorkerOptions& options) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds));
  while (Clock::now() < until && !stopping(options)) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

} // namespace

std::string default_worker_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(host[0] != '\0' ? host : "worker") + ":" + std::to_string(::getpid());
}

bool work_one(JobStore& jobs, shared::store::ObjectStore& store, const WorkerOptions& options,
              shared::log::Logger& logger, WorkerSummary& summary) {
  auto claimed = jobs.claim(options.worker_id, options.lease);
  if (!claimed) {
    return false;
  }
  const Claim claim = std::move(*claimed);
  const Job& job = claim.job;
  logger.info("Job " + job.id + ": zipping " + (job.folder.empty() ? "the root" : job.folder) +
              " (attempt " + std::to_string(job.attempts) + ")");
  const auto start = Clock::now();
  std::string error;
  bool interrupted = false;
  bool lost = false;
  Archive archive;
  {
    Heartbeat heartbeat(jobs, claim, options.lease, logger);
    ZipControls controls;
    controls.max_rate = options.max_rate;
    controls.cancelled = [&] { return heartbeat.lost() || stopping(options); };
    try {
      archive = zip_job(options.root, job, store, jobs.options().ttl, controls, logger);
      archive.expires = jobs.current_time() + jobs.options().ttl;
    } catch (const shared::error::Interrupted&) {
      interrupted = true;
    } catch (const std::exception& e) {
      error = e.what();
    }
    lost = heartbeat.lost();
  }
  if (lost) {
    ++summary.lost;
    logger.warning("Job " + job.id + ": left to the worker that took over its lease");
    return true;
  }
  if (interrupted) {
    if (jobs.release(claim)) {
      ++summary.released;
      logger.info("Job " + job.id + ": stopped, back in the queue");
    }
    return true;
  }
  if (!error.empty()) {
    if (jobs.fail(claim, error)) {
      ++summary.failed;
      logger.error("Job " + job.id + " failed: " + error);
    } else {
      ++summary.lost;
    }
    return true;
  }
  if (!jobs.finish(claim, archive)) {
    ++summary.lost;
    logger.warning("Job " + job.id + ": the lease was lost before the result was recorded");
    return true;
  }
  ++summary.done;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  logger.info("Job " + job.id + " done: " + format::bytes(archive.size) + " in " +
              format::duration(seconds) + " (" + format::rate(archive.size, seconds) +
              "), sha256 " + archive.sha256);
  return true;
}

WorkerSummary run_worker(JobStore& jobs, shared::store::ObjectStore& store,
                         const WorkerOptions& options, shared::log::Logger& logger) {
  WorkerSummary summary;
  auto last_cleanup = Clock::time_point::min();
  while (!stopping(options)) {
    if (last_cleanup == Clock::time_point::min() ||
        Clock::now() - last_cleanup >= std::chrono::seconds(options.cleanup_every)) {
      last_cleanup = Clock::now();
      try {
        const std::size_t cleaned = jobs.cleanup(store);
        summary.cleaned += cleaned;
        if (cleaned > 0) {
          logger.info("Deleted " + format::count(cleaned) + " expired jobs and their archives");
        }
      } catch (const std::exception& e) {
        logger.warning(std::string("cleanup failed: ") + e.what());
      }
    }
    try {
      if (work_one(jobs, store, options, logger, summary)) {
        continue;
      }
      if (options.once) {
        const QueueCounts counts = jobs.counts();
        if (counts.queued == 0 && counts.running == 0 && counts.claimable_running == 0) {
          break;
        }
      }
    } catch (const std::exception& e) {
      if (options.once) {
        throw;
      }
      // The database went away: keep trying, as a service would (the job, if any, is
      // taken up again when its lease runs out).
      logger.warning(std::string(e.what()) + "; trying again in " +
                     format::duration(k_database_retry) + "");
      wait(k_database_retry, options);
      continue;
    }
    wait(options.poll, options);
  }
  return summary;
}

shared::error::ExitCode worker_task(const shared::task::TaskContext& context) {
  const auto& inputs = context.inputs;
  shared::log::Logger& logger = context.logger;
  WorkerOptions options;
  options.root = inputs.text("root");
  options.worker_id = inputs.has("workerId") ? inputs.text("workerId") : default_worker_id();
  options.lease = static_cast<std::int64_t>(inputs.number("lease"));
  options.poll = inputs.number("poll");
  options.once = inputs.boolean("once");
  options.max_rate = inputs.size("maxRate");
  options.stop = [] { return shared::task::interrupted(); };
  struct stat info {};
  if (::stat(options.root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw shared::error::UsageError("--root: \"" + options.root + "\" is not a folder");
  }
  if (options.lease < 1) {
    throw shared::error::UsageError("--lease: at least 1 second");
  }
  JobStoreOptions store_options;
  store_options.ttl = static_cast<std::int64_t>(inputs.number("ttl"));
  auto jobs = JobStore::open(inputs.text("db"), store_options);
  shared::store::StoreContext store_context;
  store_context.http = shared::task::http_options_from_inputs(inputs, logger);
  store_context.http.cancelled = [] { return shared::task::interrupted(); };
  store_context.logger = &logger;
  auto store = shared::store::make_store(inputs.text("store"), store_context);
  logger.info("Worker " + options.worker_id + ": jobs from " + jobs->backend() + ", archives to " +
              store->describe() + ", folders under " + options.root);
  const WorkerSummary summary = run_worker(*jobs, *store, options, logger);
  logger.info("Worker " + options.worker_id + " stopped: " + format::count(summary.done) +
              " done, " + format::count(summary.failed) + " failed, " +
              format::count(summary.released) + " given back, " + format::count(summary.lost) +
              " lost, " + format::count(summary.cleaned) + " expired jobs deleted");
  return shared::error::ExitCode::success;
}

} // namespace tasks::download_dir_zip::jobs
