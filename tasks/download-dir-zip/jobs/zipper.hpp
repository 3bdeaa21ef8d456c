// The zipper of the asynchronous archive flow, and what the service's routes call:
//   submit_folder()  POST .../artifacts/{path}?type=download&dir=true&async=true, POST /archives
//   JobStore::get()  GET /archives/{jobId}
//   ObjectStore::local_path("<jobId>.zip")  GET /downloads/{jobId}.zip (local store)
// and what the worker calls: zip_job() walks a job's folder, streams its stored-mode ZIP
// through shared/zip into the object store, and returns what JobStore::finish() records.
#pragma once

#include "shared/error/error.hpp"
#include "shared/log/logger.hpp"
#include "shared/store/object_store.hpp"
#include "shared/zip/entry.hpp"
#include "tasks/download-dir-zip/jobs/job_store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tasks::download_dir_zip::jobs {

/// The job's folder does not exist under the root (or is reached through a symlink): the
/// service answers 404. A UsageError (exit status 2).
class FolderNotFound : public shared::error::UsageError {
public:
  explicit FolderNotFound(const std::string& folder)
      : shared::error::UsageError("folder \"" + folder + "\": no such folder") {}
};

/// The folder's files add up to more than the limit: the service answers 413 with both.
class FolderTooLarge : public shared::error::UsageError {
public:
  FolderTooLarge(const std::string& folder, std::uint64_t size, std::uint64_t limit);
  std::uint64_t size() const { return m_size; }   ///< bytes of files
  std::uint64_t limit() const { return m_limit; } ///< bytes

private:
  std::uint64_t m_size;
  std::uint64_t m_limit;
};

/// A folder under the root, listed for zipping.
struct FolderListing {
  std::vector<shared::zip::Entry> entries; ///< names relative to the folder
  std::uint64_t file_bytes = 0;            ///< sum of file sizes
  std::uint64_t files = 0;
  std::uint64_t skipped = 0; ///< symlinks and names the writer refuses (warned)
  /// SHA-256 (hex) of the sorted lines "kind name size mtime_ns mode target": equal for an
  /// unchanged tree (fingerprint_lines()).
  std::string fingerprint;
};

/// `folder` as a job stores it: relative to the root, '/'-separated, without empty, "." or
/// ".." segments, trailing '/', backslash or control character (NUL …); "" is the root itself.
/// Throws shared::error::UsageError naming the folder.
std::string normalize_folder(const std::string& folder);

/// Lists `<root>/<folder>` without following any symlink (local_plan.hpp: find_folder, plan_folder;
/// symlinks are skipped). Throws FolderNotFound, shared::error::UsageError for a bad folder,
/// shared::error::IoError for an unreadable one.
FolderListing list_folder(const std::string& root, const std::string& folder,
                          shared::log::Logger& logger);

/// Settings of the service's submit.
struct SubmitOptions {
  std::string root;                     ///< the folder jobs are relative to
  std::uint64_t max_size = 0;           ///< bytes of files; 0: no limit
  std::int64_t url_seconds = 24 * 3600; ///< validity of a reused archive's fresh read URL
};

/// What submit_folder() did.
struct Submitted {
  Job job;
  bool reused = false; ///< done at once with the archive of job.reused_from
};

/// Queues `folder` (normalize_folder(); the service builds it as "{id}/{path}") to be zipped
/// as `name` (e.g. "<path>_dir.zip"), after listing it for its fingerprint: when a done,
/// unexpired job for the same folder has the same fingerprint, the new job is done at once
/// with that archive and a fresh read URL. Throws FolderNotFound (404), UsageError for a bad
/// folder, FolderTooLarge over `max_size` (413), and the job
/// store's errors.
Submitted submit_folder(JobStore& jobs, shared::store::ObjectStore& store,
                        const std::string& folder, const std::string& name,
                        const SubmitOptions& options, shared::log::Logger& logger);

/// The body of GET /archives/{jobId}: a JSON object with
/// "id", "status" (queued|running|done|failed), "name", "created" (seconds since 1970), and,
/// when done, "url", "size" (bytes), "sha256" (hex), "expires" (seconds since 1970) and
/// "reusedFrom" when it reuses another job's archive; when failed, "error".
std::string job_json(const Job& job);

/// The object name of a job's archive: "<job id>.zip".
std::string archive_object(const Job& job);

/// How zip_job() is controlled while it runs.
struct ZipControls {
  /// Polled before every buffer handed to the store; when it returns true the zip stops with
  /// error::Interrupted and the object is abandoned (lease lost, SIGTERM).
  std::function<bool()> cancelled;
  std::uint64_t max_rate = 0; ///< bytes per second at most; 0: no limit
};

/// Zips the job's folder (store mode, entries sorted, shared/zip write_archive) into
/// archive_object(job) in `store`: nothing on disk beyond the store's own part file (local)
/// or one block in memory (Azure), the SHA-256 and size computed as the bytes pass. Returns
/// what JobStore::finish() records, with the read URL valid for `url_seconds`. Throws
/// FolderNotFound, error::IntegrityError (a file changed while zipped), error::IoError,
/// error::Interrupted (controls.cancelled), and the store's errors.
Archive zip_job(const std::string& root, const Job& job, shared::store::ObjectStore& store,
                std::int64_t url_seconds, const ZipControls& controls, shared::log::Logger& logger);

} // namespace tasks::download_dir_zip::jobs
