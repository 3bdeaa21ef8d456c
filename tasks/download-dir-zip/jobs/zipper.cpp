#include "tasks/download-dir-zip/jobs/zipper.hpp"

#include "shared/format/units.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/log/limited_warnings.hpp"
#include "shared/zip/io.hpp"
#include "shared/zip/writer.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"
#include "tasks/download-dir-zip/local_plan.hpp"

#include <Poco/JSON/Object.h>

#include <chrono>
#include <sstream>
#include <thread>

namespace tasks::download_dir_zip::jobs {
namespace {

namespace zip = shared::zip;
namespace format = shared::format;
using shared::error::UsageError;

constexpr std::size_t k_warnings_shown = 20;

const char* kind_letter(zip::EntryKind kind) {
  switch (kind) {
  case zip::EntryKind::file:
    return "f";
  case zip::EntryKind::folder:
    return "d";
  case zip::EntryKind::symlink:
    return "l";
  }
  return "?";
}

// Archive bytes on their way into the store: counted, hashed, throttled, cancellable.
class StoreSink : public zip::Sink {
public:
  StoreSink(shared::store::ObjectWriter& writer, const ZipControls& controls)
      : m_writer(writer), m_controls(controls), m_start(std::chrono::steady_clock::now()) {}

  bool write(const char* data, std::size_t size) override {
    if (m_controls.cancelled && m_controls.cancelled()) {
      throw shared::error::Interrupted();
    }
    m_writer.write(data, size);
    m_hash.update(data, size);
    m_size += size;
    if (m_controls.max_rate > 0) { // sleep until the bytes so far fit the rate
      const auto due =
          m_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(m_size) /
                                                      static_cast<double>(m_controls.max_rate)));
      while (std::chrono::steady_clock::now() < due) {
        if (m_controls.cancelled && m_controls.cancelled()) {
          throw shared::error::Interrupted();
        }
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            due - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
      }
    }
    return true;
  }

  std::uint64_t size() const { return m_size; }
  std::string sha256() { return shared::hash::to_hex(m_hash.finish(), false); }

private:
  shared::store::ObjectWriter& m_writer;
  const ZipControls& m_controls;
  std::chrono::steady_clock::time_point m_start;
  shared::hash::Sha256 m_hash;
  std::uint64_t m_size = 0;
};

} // namespace

FolderTooLarge::FolderTooLarge(const std::string& folder, std::uint64_t size, std::uint64_t limit)
    : UsageError("folder \"" + folder + "\" holds " + format::bytes(size) + " (" +
                 format::count(size) + " bytes) of files, over the limit of " +
                 format::bytes(limit) + " (" + format::count(limit) + " bytes)"),
      m_size(size), m_limit(limit) {}

std::string normalize_folder(const std::string& folder) {
  for (const char c : folder) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw UsageError("folder \"" + folder.substr(0, folder.find('\0')) +
                       "…\": a control character (NUL, newline …) in the path");
    }
  }
  try {
    return normalize_subtree(folder);
  } catch (const UsageError& e) {
    std::string message = e.what();
    const std::string flag = "--path: ";
    if (message.compare(0, flag.size(), flag) == 0) {
      message = "folder " + message.substr(flag.size());
    }
    throw UsageError(message);
  }
}

FolderListing list_folder(const std::string& root, const std::string& folder_in,
                          shared::log::Logger& logger) {
  const std::string folder = normalize_folder(folder_in);
  if (!find_folder(root, folder)) {
    throw FolderNotFound(folder);
  }
  shared::log::LimitedWarnings warnings(logger, k_warnings_shown);
  Plan plan;
  plan_folder(plan, folder.empty() ? root : root + "/" + folder, "", false, nullptr, warnings);
  warnings.finish("skipped entries");
  FolderListing listing;
  std::vector<std::string> lines;
  lines.reserve(plan.entries.size());
  for (std::size_t i = 0; i < plan.entries.size(); ++i) {
    const zip::Entry& entry = plan.entries[i];
    lines.push_back(std::string(kind_letter(entry.kind)) + " " + entry.path + " " +
                    std::to_string(entry.size) + " " + std::to_string(plan.mtime_ns[i]) + " " +
                    std::to_string(entry.mode) + " " + entry.link_target);
  }
  listing.fingerprint = fingerprint_lines(std::move(lines));
  listing.entries = std::move(plan.entries);
  listing.file_bytes = plan.file_bytes;
  listing.files = plan.files;
  listing.skipped = plan.skipped;
  return listing;
}

std::string job_json(const Job& job) {
  Poco::JSON::Object body;
  body.set("id", job.id);
  body.set("status", std::string(to_string(job.status)));
  body.set("name", job.name);
  body.set("created", static_cast<Poco::Int64>(job.created));
  if (job.status == Status::done) {
    body.set("url", job.url);
    body.set("size", static_cast<Poco::UInt64>(job.size));
    body.set("sha256", job.sha256);
    body.set("expires", static_cast<Poco::Int64>(job.expires));
    if (!job.reused_from.empty()) {
      body.set("reusedFrom", job.reused_from);
    }
  } else if (job.status == Status::failed) {
    body.set("error", job.error);
  }
  std::ostringstream out;
  body.stringify(out);
  return out.str();
}

std::string archive_object(const Job& job) {
  return job.id + ".zip";
}

Submitted submit_folder(JobStore& jobs, shared::store::ObjectStore& store,
                        const std::string& folder_in, const std::string& name,
                        const SubmitOptions& options, shared::log::Logger& logger) {
  const std::string folder = normalize_folder(folder_in);
  const FolderListing listing = list_folder(options.root, folder, logger);
  if (options.max_size != 0 && listing.file_bytes > options.max_size) {
    throw FolderTooLarge(folder, listing.file_bytes, options.max_size);
  }
  Submitted submitted;
  if (auto original = jobs.find_reusable(folder, listing.fingerprint)) {
    const std::int64_t left = original->expires - jobs.current_time();
    const std::string url =
        store.read_url(original->object, std::chrono::seconds(std::min(left, options.url_seconds)));
    submitted.job = jobs.submit_reused(*original, name, url);
    submitted.reused = true;
    logger.info("Job " + submitted.job.id + " for " + folder + ": unchanged since job " +
                original->id + ", its archive reused");
    return submitted;
  }
  submitted.job = jobs.submit(folder, name, listing.fingerprint);
  logger.info("Job " + submitted.job.id + " for " + folder + " queued (" +
              format::count(listing.files) + " files, " + format::bytes(listing.file_bytes) + ")");
  return submitted;
}

Archive zip_job(const std::string& root, const Job& job, shared::store::ObjectStore& store,
                std::int64_t url_seconds, const ZipControls& controls,
                shared::log::Logger& logger) {
  FolderListing listing = list_folder(root, job.folder, logger);
  const std::string subtree = job.folder.empty() ? root : root + "/" + job.folder;
  zip::LocalBodyProvider bodies(subtree);
  Archive archive;
  archive.object = archive_object(job);
  archive.fingerprint = listing.fingerprint;
  auto writer = store.create(archive.object);
  StoreSink sink(*writer, controls);
  zip::WriteOptions write;
  write.method = zip::Method::store;
  zip::write_archive(std::move(listing.entries), write, bodies, sink);
  writer->commit();
  archive.size = sink.size();
  archive.sha256 = sink.sha256();
  archive.url = store.read_url(archive.object, std::chrono::seconds(url_seconds));
  return archive;
}

} // namespace tasks::download_dir_zip::jobs
