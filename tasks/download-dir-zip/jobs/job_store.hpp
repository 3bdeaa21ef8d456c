// The queue of asynchronous archive jobs (save a request, consume it): one
// table in SQLite (a file, no set-up; one machine) or PostgreSQL (many workers on many
// machines), through Poco::Data. A job is claimed under a lease that its worker renews while it
// zips; a job whose lease ran out (its worker died) is claimable again. Finished archives live
// for a TTL; cleanup() deletes the expired ones from the object store and the table.
//
// Times are seconds since 1970 UTC from JobStoreOptions::clock (the process clock by default):
// the workers' and services' clocks are assumed to agree within a few seconds (NTP).
#pragma once

#include "shared/store/object_store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace tasks::download_dir_zip::jobs {

/// Where a job is: queued → running → done | failed (running → queued again when its lease
/// runs out or its worker is stopped).
enum class Status { queued, running, done, failed };

/// "queued", "running", "done", "failed".
const char* to_string(Status status);

/// One job as stored.
struct Job {
  std::string id;     ///< a random UUID (RFC 4122 version 4), lowercase
  std::string folder; ///< the folder to zip, relative to the worker's root ("{build}/{path}")
  std::string name;   ///< the archive's file name for downloads, e.g. "dist_dir.zip"
  Status status = Status::queued;
  std::string url;              ///< done: where to download the archive (see ObjectStore::read_url)
  std::uint64_t size = 0;       ///< done: the archive's length in bytes
  std::string sha256;           ///< done: the archive's SHA-256, 64 lowercase hex digits
  std::string error;            ///< failed: why, one line
  std::string fingerprint;      ///< the folder's content fingerprint (folder_fingerprint())
  std::string object;           ///< done: the archive's object name in the store
  std::string reused_from;      ///< done by reuse: the job whose archive this one hands out
  std::string worker;           ///< running: who holds the lease
  std::int64_t lease_until = 0; ///< running: the lease's end
  std::int64_t attempts = 0;    ///< how many times the job was claimed
  std::int64_t created = 0;
  std::int64_t updated = 0;
  std::int64_t expires = 0; ///< done/failed: when cleanup() removes it (and its archive)
};

/// A claimed job and the lease's token: renew(), finish(), fail() and release() act only while
/// the token is the job's current one, so a worker whose lease was taken over cannot overwrite
/// the new owner's result.
struct Claim {
  Job job;
  std::string token;
};

/// What a worker records for a finished archive.
struct Archive {
  std::string object;      ///< its name in the object store
  std::string url;         ///< read URL, valid until `expires`
  std::uint64_t size = 0;  ///< bytes
  std::string sha256;      ///< lowercase hex
  std::string fingerprint; ///< of the tree that was zipped
  std::int64_t expires = 0;
};

/// Queue settings.
struct JobStoreOptions {
  std::int64_t ttl = 24 * 3600; ///< seconds a finished (or failed) job and its archive live
  int max_attempts = 3;         ///< claims before a job whose worker keeps dying is failed
  /// Reuse only archives with at least this many seconds left (a reused URL must outlive a
  /// client's download; cleanup() also cannot race a fresh reuse).
  std::int64_t reuse_margin = 300;
  std::function<std::int64_t()> clock; ///< seconds since 1970; empty: the process clock
};

/// Counts for a worker's --once: it stops when nothing is queued or running.
struct QueueCounts {
  std::int64_t queued = 0;
  std::int64_t running = 0;           ///< leases not yet expired
  std::int64_t claimable_running = 0; ///< running with an expired lease
};

/// The job table. Thread-safe (one database session behind a mutex, reopened when the server
/// dropped it); open one per process. Database failures throw shared::error::Error with exit
/// status 3 ("job database: …").
class JobStore {
public:
  /// Opens the database `spec` and creates or migrates the schema (idempotent, safe with
  /// several processes starting at once):
  ///   - "" or "sqlite:<path>" or a path: SQLite (WAL journal, 30 s busy timeout); "" means
  ///     "download-dir-zip-jobs.sqlite" in the working directory;
  ///   - "postgresql://[user[:password]@]host[:port]/database[?…]" (libpq URI): PostgreSQL.
  /// Throws error::UsageError naming --db when it cannot be opened.
  static std::unique_ptr<JobStore> open(const std::string& spec, JobStoreOptions options = {});
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  /// "sqlite" or "postgresql".
  const std::string& backend() const { return m_backend; }
  const JobStoreOptions& options() const { return m_options; }
  /// Seconds since 1970 by the store's clock.
  std::int64_t current_time() const;

  /// Queues a job for `folder` (root-relative) to be downloaded as `name`, with the folder's
  /// current `fingerprint` (may be "" when unknown). Returns it (status queued).
  Job submit(const std::string& folder, const std::string& name, const std::string& fingerprint);

  /// A done job for `folder` with `fingerprint` whose archive still has reuse_margin seconds
  /// to live (the one living longest), or nullopt. "" never matches.
  std::optional<Job> find_reusable(const std::string& folder, const std::string& fingerprint);

  /// Records a job that is done at once with the archive of `original` (a find_reusable()
  /// result) under a fresh read URL `url`; it expires with the original.
  Job submit_reused(const Job& original, const std::string& name, const std::string& url);

  /// The job `id`, or nullopt when there is none (or it was cleaned up).
  std::optional<Job> get(const std::string& id);

  /// Takes the oldest claimable job (queued, or running with a lease that ended before the
  /// current second: times are whole seconds, so a lease lasts at least `lease_seconds`) for
  /// `worker`
  /// with a lease of `lease_seconds`, in one transaction (PostgreSQL: SELECT … FOR UPDATE SKIP
  /// LOCKED, so workers never wait on each other; SQLite: BEGIN IMMEDIATE). A job already
  /// claimed max_attempts times is failed instead. nullopt when none is claimable.
  std::optional<Claim> claim(const std::string& worker, std::int64_t lease_seconds);

  /// Extends the lease to now + lease_seconds. False when the lease was lost (expired and
  /// taken over, or the job is no longer running): the worker must stop working on it.
  bool renew(const Claim& claim, std::int64_t lease_seconds);

  /// Records the archive: status done. False when the lease was lost (nothing recorded).
  bool finish(const Claim& claim, const Archive& archive);

  /// Records the failure: status failed, expiring after the TTL. False when the lease was lost.
  bool fail(const Claim& claim, const std::string& error);

  /// Puts the job back in the queue at once (a worker stopping on SIGTERM). False when the
  /// lease was lost.
  bool release(const Claim& claim);

  /// Deletes expired done and failed jobs, at most `limit`, and each archive no remaining job
  /// refers to (ObjectStore::remove; a missing one is fine). Returns the jobs deleted.
  std::size_t cleanup(shared::store::ObjectStore& store, std::size_t limit = 1000);

  /// How many jobs are queued and running.
  QueueCounts counts();

private:
  JobStore(std::string backend, std::unique_ptr<Poco::Data::Session> session,
           JobStoreOptions options);
  void migrate();
  /// Opens the session again when the server dropped it (a PostgreSQL restart).
  void reconnect_if_needed();
  std::string sql(const std::string& text) const; ///< '?' → $1, $2 … for PostgreSQL
  void begin_write();
  void commit();
  void rollback() noexcept;
  std::optional<Job> select_one(const std::string& where_id);
  /// Runs `body` under the lock on a live session; a database error is rethrown naming `what`.
  template <typename Body>
  auto locked(const std::string& what, const Body& body);

  std::string m_backend;
  std::unique_ptr<Poco::Data::Session> m_session;
  JobStoreOptions m_options;
  std::mutex m_mutex;
};

/// A libpq URI, postgresql://[user[:password]@]host[:port][/database][?keyword=value&…]
/// (percent-encoded parts decoded), as the keyword/value string ("host=h port=5432 …", values
/// quoted when needed) that Poco::Data::PostgreSQL 1.11 requires (it refuses URIs). Throws
/// shared::error::UsageError naming --db.
std::string postgres_keywords(const std::string& uri);

/// The content fingerprint of a list of entries: SHA-256 (lowercase hex) over one line per
/// entry, sorted by name: kind, name, size, modification time (ns), mode, link target.
/// Built by the zipper's walk (zipper.hpp: list_folder()).
std::string fingerprint_lines(std::vector<std::string> lines);

} // namespace tasks::download_dir_zip::jobs
