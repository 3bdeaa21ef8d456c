#include "tasks/download-artifact/batch.hpp"

#include "shared/crypt4gh/crypt4gh.hpp"
#include "shared/format/units.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/retry.hpp"
#include "shared/source/drs.hpp"
#include "tasks/download-artifact/already_downloaded.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace tasks::download_artifact {
namespace {

namespace format = shared::format;
using shared::source::DrsAnswer;

constexpr std::size_t k_listed = 50;
// The shortest time between two GET /objects/{id} of a file being staged (seconds), whatever
// its Retry-After says ("0" must not make a tight loop).
constexpr double k_min_poll = 1;

// One id's way through the batch.
struct File {
  std::string id;
  DrsAnswer answer;
  std::chrono::steady_clock::time_point answered; // when `answer` came
  std::string name;                               // in the destination, once known
  std::string problem;                            // why it is unavailable or failed
  enum class Status { pending, exists, unavailable, downloaded, failed } status = Status::pending;
  shared::error::ExitCode code = shared::error::ExitCode::items_failed;
};

// `file` failed with `e` (logged): an integrity failure keeps its exit status, anything else is
// a failed item.
void fail(File& file, const std::exception& e, shared::log::Logger& logger) {
  file.status = File::Status::failed;
  file.problem = e.what();
  const auto* error = dynamic_cast<const shared::error::Error*>(&e);
  file.code = error != nullptr && error->code() == shared::error::ExitCode::integrity
                  ? shared::error::ExitCode::integrity
                  : shared::error::ExitCode::items_failed;
  logger.error(file.id + ": " + e.what());
}

// Throws error::Interrupted once SIGINT/SIGTERM arrived (the run's cancel flag).
void stop_if_cancelled(const std::function<bool()>& cancelled) {
  if (cancelled && cancelled()) {
    throw shared::error::Interrupted();
  }
}

// The ids of `files`, listed for a message (the first k_listed).
std::string list_ids(const std::vector<const File*>& files, bool with_problem) {
  std::string text;
  for (std::size_t i = 0; i < files.size() && i < k_listed; ++i) {
    text += "\n  " + files[i]->id;
    if (with_problem && !files[i]->problem.empty()) {
      text += " (" + files[i]->problem + ")";
    }
  }
  if (files.size() > k_listed) {
    text += "\n  … and " + format::count(files.size() - k_listed) + " more";
  }
  return text;
}

// Skips `files` as the flag or the user says; throws UsageError to stop the run.
void decide(const std::vector<const File*>& files, const std::string& what, bool flag,
            const std::string& flag_name, const BatchOptions& options,
            shared::log::Logger& logger) {
  if (files.empty() || flag) {
    return;
  }
  const std::string count = format::count(files.size());
  if (const auto answer =
          options.ask ? options.ask(count + " " + what + ": skip them and go on?") : std::nullopt) {
    if (*answer) {
      return;
    }
    throw shared::error::Interrupted();
  }
  (void)logger;
  throw shared::error::UsageError(count + " " + what + ", and no terminal to ask: rerun with " +
                                  flag_name + " to skip them" + list_ids(files, false));
}

// The name in the destination: GHGA's from the work package, else from the DRS name.
std::string name_in_destination(const BatchOptions& options, const std::string& id,
                                const shared::source::DrsObject& object) {
  if (!options.ghga) {
    return file_name_for(id, object.name);
  }
  const auto extension = options.extensions.find(id);
  return id + (extension == options.extensions.end() ? "" : extension->second) + ".c4gh";
}

// The SHA-256 to check, unless skipValidation.
std::optional<shared::hash::Digest> expected_sha256(const BatchOptions& options,
                                                    const shared::source::DrsObject& object) {
  return options.skip_validation ? std::nullopt : object.sha256;
}

// Whether `path` already holds the object, as the provider saves it.
bool complete_at(const BatchOptions& options, const std::string& path,
                 const shared::source::DrsObject& object) {
  const auto sha256 = expected_sha256(options, object);
  return already_downloaded(path, object, sha256, options.ghga, options.http.cancelled);
}

// Asks the service about every file first: availability, and staging starts. Only 404 and 403
// make a file unavailable. Any other failure fails that file (the HTTP layer has retried),
// except that a service which has not answered any check yet and cannot be reached ends the run.
void check_all(std::vector<File>& files, shared::source::DrsClient& drs,
               const BatchOptions& options, shared::log::Logger& logger) {
  logger.info("Checking " + format::count(files.size()) + " files at " + options.base);
  bool reached = false; // the service answered a check
  for (File& file : files) {
    stop_if_cancelled(options.http.cancelled);
    try {
      file.answer = drs.object(file.id);
      file.answered = std::chrono::steady_clock::now();
      reached = true;
      if (file.answer.state == DrsAnswer::State::unavailable) {
        file.status = File::Status::unavailable;
        file.problem = file.answer.reason;
      } else if (file.answer.state == DrsAnswer::State::ready) {
        file.name = name_in_destination(options, file.id, *file.answer.object);
      }
    } catch (const shared::error::Interrupted&) {
      throw;
    } catch (const shared::http::NetworkError& e) {
      if (!reached) {
        throw shared::error::Error(shared::error::ExitCode::network,
                                   "cannot reach the DRS service: " + std::string(e.what()));
      }
      fail(file, e, logger);
    } catch (const std::exception& e) {
      reached = true; // it answered, if not as DRS says
      fail(file, e, logger);
    }
  }
}

// The files the checks left out of the download.
struct Skipped {
  std::vector<const File*> existing;
  std::vector<const File*> unavailable;
};

// Reports what the checks found, then skips or stops as the flags or the user say (throws
// error::UsageError or error::Interrupted to stop).
Skipped report_checks(const std::vector<File>& files, const BatchOptions& options,
                      shared::log::Logger& logger) {
  Skipped skipped;
  std::size_t ready = 0;
  std::size_t staging = 0;
  std::size_t unchecked = 0;
  for (const File& file : files) {
    if (file.status == File::Status::exists) {
      skipped.existing.push_back(&file);
    } else if (file.status == File::Status::unavailable) {
      skipped.unavailable.push_back(&file);
    }
    ready += file.status == File::Status::pending && file.answer.state == DrsAnswer::State::ready;
    staging +=
        file.status == File::Status::pending && file.answer.state == DrsAnswer::State::staging;
    unchecked += file.status == File::Status::failed;
  }
  logger.info(
      format::count(ready) + " ready, " + format::count(staging) + " being staged, " +
      format::count(skipped.existing.size()) + " already downloaded, " +
      format::count(skipped.unavailable.size()) + " unavailable" +
      (unchecked == 0 ? std::string() : ", " + format::count(unchecked) + " failed their check"));
  if (!skipped.existing.empty()) {
    logger.info("Already downloaded in " + options.destination + ":" +
                list_ids(skipped.existing, false));
  }
  if (!skipped.unavailable.empty()) {
    logger.warning("Not available:" + list_ids(skipped.unavailable, true));
  }
  decide(skipped.existing, "files are already downloaded", options.skip_downloaded,
         "--skip-downloaded", options, logger);
  decide(skipped.unavailable, "files are not available", options.skip_unavailable,
         "--skip-unavailable", options, logger);
  return skipped;
}

// Polls a file being staged until it is ready: at the service's Retry-After, never sooner than
// k_min_poll after its last answer. The wait is measured from here; it fails as soon as the
// next poll would come after maxWait, or when the file becomes unavailable.
void wait_while_staging(File& file, shared::source::DrsClient& drs, const BatchOptions& options,
                        shared::log::Logger& logger) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point waiting = Clock::now();
  const auto since = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  };
  while (file.answer.state == DrsAnswer::State::staging) {
    const Clock::time_point next =
        file.answered + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            std::max(file.answer.retry_after, k_min_poll)));
    const Clock::time_point now = Clock::now();
    if (since(waiting, next) > options.max_wait) {
      throw shared::error::Error(
          shared::error::ExitCode::items_failed,
          "still being staged after " + format::duration(since(waiting, now)) + " (maxWait " +
              format::duration(options.max_wait) + "; the service asked to " + "wait " +
              format::duration(file.answer.retry_after) + " more)");
    }
    const double delay = std::max(0.0, since(now, next));
    logger.info(file.id + ": being staged; asking again in " + format::duration(delay));
    shared::http::sleep_unless_cancelled(delay, options.http.cancelled);
    file.answer = drs.object(file.id);
    file.answered = Clock::now();
    if (file.answer.state == DrsAnswer::State::unavailable) {
      throw shared::error::Error(shared::error::ExitCode::items_failed,
                                 "became unavailable: " + file.answer.reason);
    }
  }
}

// GHGA: the file's Crypt4GH envelope (the header made for the user's key), checked to be one
// Crypt4GH header.
std::string envelope_of(const std::string& id, shared::source::DrsClient& drs) {
  std::string envelope = drs.envelope(id);
  std::string problem;
  if (shared::crypt4gh::header_length(envelope, &problem) != envelope.size()) {
    throw shared::error::Error(
        shared::error::ExitCode::items_failed,
        "the envelope from GET /objects/" + id + "/envelopes is not a Crypt4GH header" +
            (problem.empty() ? std::string(" (bytes after it)") : ": " + problem));
  }
  return envelope;
}

// Downloads one file once it is ready, in parallel parts; returns the bytes written.
std::uint64_t download_file(File& file, shared::source::DrsClient& drs, const BatchOptions& options,
                            shared::log::Logger& logger) {
  wait_while_staging(file, drs, options, logger);
  const auto& object = *file.answer.object;
  file.name = name_in_destination(options, file.id, object);
  logger.info("Downloading " + file.id + " (" + format::bytes(object.size) + ") to " + file.name);
  const std::string envelope = options.ghga ? envelope_of(file.id, drs) : std::string();
  const auto refresh = [&drs, &file]() {
    const DrsAnswer fresh = drs.object(file.id);
    if (fresh.state != DrsAnswer::State::ready) {
      throw shared::error::Error(shared::error::ExitCode::items_failed,
                                 "no fresh access URL: " + (fresh.reason.empty()
                                                                ? std::string("being staged")
                                                                : fresh.reason));
    }
    return shared::source::AccessUrl{fresh.object->access_url, fresh.object->access_headers};
  };
  shared::progress::Reporter progress(logger, options.progress, "Downloading " + file.id, "files",
                                      1, object.size);
  shared::transfer::download_ranged(options.destination + "/" + file.name, object.size,
                                    expected_sha256(options, object),
                                    {object.access_url, object.access_headers}, refresh,
                                    options.ranged, logger, progress, envelope);
  return envelope.size() + object.size;
}

// Logs the summary; returns the run's exit status.
shared::error::ExitCode summarise(const std::vector<File>& files, const Skipped& skipped,
                                  std::uint64_t bytes, double seconds, const BatchOptions& options,
                                  shared::log::Logger& logger) {
  std::vector<const File*> failed;
  std::size_t downloaded = 0;
  for (const File& file : files) {
    if (file.status == File::Status::failed) {
      failed.push_back(&file);
    }
    downloaded += file.status == File::Status::downloaded;
  }
  if (!failed.empty()) {
    logger.group_begin("Failed files (" + format::count(failed.size()) + ")");
    logger.info(list_ids(failed, true).substr(1));
    logger.group_end();
  }
  logger.info("Downloaded " + format::count(downloaded) + " files (" + format::bytes(bytes) +
              ") to " + options.destination + " in " + format::duration(seconds) + " (" +
              format::rate(bytes, seconds) + "): " + format::count(skipped.existing.size()) +
              " skipped (exists), " + format::count(skipped.unavailable.size()) +
              " skipped (unavailable), " + format::count(failed.size()) + " failed");
  for (const File* file : failed) {
    if (file->code == shared::error::ExitCode::integrity) {
      return shared::error::ExitCode::integrity;
    }
  }
  return failed.empty() ? shared::error::ExitCode::success : shared::error::ExitCode::items_failed;
}

} // namespace

std::vector<std::string> read_ids(const std::vector<std::string>& lines) {
  std::vector<std::string> ids;
  const auto add = [&ids](std::string id, const std::string& origin) {
    while (!id.empty() && (id.back() == '\r' || id.back() == ' ' || id.back() == '\t')) {
      id.pop_back();
    }
    id.erase(0, id.find_first_not_of(" \t"));
    if (id.empty() || id[0] == '#') {
      return;
    }
    if (id.find('/') != std::string::npos || std::any_of(id.begin(), id.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20;
        })) {
      throw shared::error::UsageError(origin + ": \"" + id +
                                      "\" is not a file id (a / or a control character)");
    }
    ids.push_back(std::move(id));
  };
  for (const auto& line : lines) {
    if (!line.empty() && line[0] == '@') {
      std::ifstream in(line.substr(1));
      if (!in) {
        throw shared::error::UsageError("--files: cannot read the id list " + line.substr(1));
      }
      std::string id;
      while (std::getline(in, id)) {
        add(id, line.substr(1));
      }
    } else {
      add(line, "--files");
    }
  }
  if (ids.empty()) {
    throw shared::error::UsageError("--files: provider drs needs at least one file id");
  }
  return ids;
}

std::string file_name_for(const std::string& id, const std::string& drs_name) {
  const std::string base =
      drs_name.substr(drs_name.rfind('/') == std::string::npos ? 0 : drs_name.rfind('/') + 1);
  const auto dot = base.find('.', 1);
  std::string extension = dot == std::string::npos ? "" : base.substr(dot);
  if (extension.find_first_of("\\:") != std::string::npos || extension == "." ||
      extension == "..") {
    extension.clear();
  }
  return id + extension;
}

shared::error::ExitCode run_batch(const BatchOptions& options, shared::log::Logger& logger) {
  const auto start = std::chrono::steady_clock::now();
  shared::source::DrsClient drs(options.base, options.http, logger);
  std::vector<File> files;
  for (const auto& id : options.ids) {
    if (std::none_of(files.begin(), files.end(), [&id](const File& f) { return f.id == id; })) {
      files.push_back(File{id, {}, {}, {}, {}});
    }
  }
  check_all(files, drs, options, logger);
  for (File& file : files) { // a .part leftover is never complete
    if (file.answer.state == DrsAnswer::State::ready && file.status == File::Status::pending &&
        complete_at(options, options.destination + "/" + file.name, *file.answer.object)) {
      file.status = File::Status::exists;
    }
  }
  // Ready first, then by the wait the service announced.
  std::stable_sort(files.begin(), files.end(), [](const File& a, const File& b) {
    const auto wait = [](const File& f) {
      return f.answer.state == DrsAnswer::State::ready ? -1.0 : f.answer.retry_after;
    };
    return wait(a) < wait(b);
  });
  const Skipped skipped = report_checks(files, options, logger);

  std::error_code ec;
  std::filesystem::create_directories(options.destination, ec);
  std::uint64_t bytes = 0;
  for (File& file : files) { // one file at a time, each in parallel parts
    if (file.status != File::Status::pending) {
      continue;
    }
    stop_if_cancelled(options.http.cancelled);
    try {
      bytes += download_file(file, drs, options, logger);
      file.status = File::Status::downloaded;
    } catch (const shared::error::Interrupted&) {
      throw;
    } catch (const std::exception& e) {
      fail(file, e, logger);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summarise(files, skipped, bytes, seconds, options, logger);
}

} // namespace tasks::download_artifact
