#include "tasks/download-dir-zip/serve_jobs.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/server/request_target.hpp"
#include "shared/server/response_body.hpp"
#include "tasks/download-dir-zip/jobs/zipper.hpp"
#include "tasks/download-dir-zip/serve_routes.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPResponse.h>

#include <cctype>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>

namespace tasks::download_dir_zip {
namespace {

namespace server = shared::server;
using server::Exchange;
using server::HttpError;

constexpr std::size_t k_max_body = 64 * 1024; // bytes of a POST /archives body
constexpr const char* k_no_folder = "The folder does not exist or has been deleted.";
constexpr const char* k_no_job = "There is no such job (or it has expired).";
constexpr const char* k_no_archive = "The archive does not exist or has expired.";

// {"statusCode":…,"error":"<reason>","message":…}, the shape of the 413 of the /v4/ routes.
void send_json_error(Exchange& exchange, int status, const std::string& message) {
  Poco::JSON::Object body;
  body.set("statusCode", status);
  body.set("error", Poco::Net::HTTPResponse::getReasonForStatus(
                        static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status)));
  body.set("message", message);
  std::ostringstream text;
  body.stringify(text);
  server::send_text(exchange, status, "application/json", text.str() + "\n");
}

// Runs a handler; its HttpErrors are answered as JSON errors, the job store's failures as 503.
template <typename Body>
void json_errors(Exchange& exchange, Body&& body) {
  try {
    body();
  } catch (const HttpError& e) {
    send_json_error(exchange, e.status(), e.what());
  } catch (const shared::error::Error& e) {
    exchange.note = e.what();
    send_json_error(exchange, 503, "The job database is not available; try again later.");
  }
}

// Whether `id` has the form of a job id (a lowercase RFC 4122 UUID).
bool job_id_form(const std::string& id) {
  if (id.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-'
             : !(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// A JSON string field of a POST /archives body, split at '/' and each segment checked as a
// URL's segment is after decoding (no "..", ".", empty, "\", NUL or control characters, at
// most 255 bytes; '%' refused: these names are not percent-encoded).
std::vector<std::string> folder_segments(const std::string& field, const std::string& text) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = std::min(text.find('/', start), text.size());
    const std::string segment = text.substr(start, slash - start);
    try {
      if (segment.find('%') != std::string::npos) {
        throw HttpError(400, "\"%\" is not allowed");
      }
      server::decode_segment(segment);
    } catch (const HttpError& e) {
      throw HttpError(400, "\"" + field + "\": segment \"" + segment.substr(0, 64) +
                               "\" refused: " + e.what());
    }
    segments.push_back(segment);
    if (slash == text.size()) {
      return segments;
    }
    start = slash + 1;
  }
}

std::string json_text(const Poco::JSON::Object& object, const std::string& field, bool required) {
  if (!object.has(field) || object.isNull(field)) {
    if (required) {
      throw HttpError(400, "the body has no \"" + field + "\"");
    }
    return {};
  }
  const Poco::Dynamic::Var value = object.get(field);
  if (!value.isString()) {
    throw HttpError(400, "\"" + field + "\" must be a string");
  }
  return value.extract<std::string>();
}

} // namespace

JobRoutes::JobRoutes(JobRoutesOptions options, jobs::JobStore& jobs,
                     shared::store::ObjectStore& store, shared::log::Logger& logger)
    : m_options(std::move(options)), m_jobs(jobs), m_store(store), m_logger(logger) {}

void JobRoutes::register_routes(server::Router& router) {
  const server::RouteOptions signed_route{true};
  const auto check_async = [](Exchange& ex, bool folder_route) {
    const auto value = [&](const std::string& name) {
      const auto it = ex.query.find(name);
      return it == ex.query.end() ? std::string() : it->second;
    };
    if (value("async") != "true") {
      throw HttpError(400, "POST asks for an asynchronous archive: add async=true");
    }
    if (folder_route && value("dir") != "true") {
      throw HttpError(400, "asynchronous archives are of folders: add dir=true");
    }
    if (!value("type").empty() && value("type") != "download") {
      throw HttpError(400, "type must be download");
    }
  };
  router.add(
      "POST", "/v4/builds/{id}/artifacts/{path+}",
      [this, check_async](Exchange& ex) {
        json_errors(ex, [&] {
          check_async(ex, true);
          std::string folder = ex.params.at("id");
          for (const auto& segment : ex.rest) {
            folder += "/" + segment;
          }
          submit(ex, folder, ex.rest.back() + "_dir.zip");
        });
      },
      signed_route);
  router.add(
      "POST", "/v4/builds/{id}/artifacts",
      [this, check_async](Exchange& ex) {
        json_errors(ex, [&] {
          check_async(ex, false);
          const std::string& id = ex.params.at("id");
          submit(ex, id, id + "_artifacts.zip");
        });
      },
      signed_route);
  router.add(
      "POST", "/archives", [this](Exchange& ex) { json_errors(ex, [&] { post_archives(ex); }); },
      signed_route);
  router.add("GET", "/archives/{jobId}",
             [this](Exchange& ex) { json_errors(ex, [&] { get_job(ex); }); });
  router.add("GET", "/downloads/{name}",
             [this](Exchange& ex) { json_errors(ex, [&] { download(ex); }); });
}

void JobRoutes::submit(Exchange& exchange, const std::string& folder, const std::string& name) {
  jobs::SubmitOptions options;
  options.root = m_options.root;
  options.max_size = m_options.max_download_size;
  jobs::Submitted submitted;
  try {
    submitted = jobs::submit_folder(m_jobs, m_store, folder, name, options, m_logger);
  } catch (const jobs::FolderNotFound&) {
    throw HttpError(404, k_no_folder);
  } catch (const jobs::FolderTooLarge& e) {
    send_too_large(exchange, e.size(), e.limit());
    return;
  } catch (const shared::error::UsageError& e) {
    throw HttpError(400, e.what());
  } catch (const shared::error::IoError& e) {
    exchange.note = e.what();
    throw HttpError(503, "This folder could not be read; try again later.");
  }
  const std::string status_url = "/archives/" + submitted.job.id;
  Poco::JSON::Parser parser;
  auto body = parser.parse(jobs::job_json(submitted.job)).extract<Poco::JSON::Object::Ptr>();
  body->set("statusUrl", status_url);
  std::ostringstream text;
  body->stringify(text);
  exchange.note = "job " + submitted.job.id + (submitted.reused ? " (reused)" : "");
  exchange.response.set("Location", status_url);
  server::send_text(exchange, 201, "application/json", text.str() + "\n");
}

void JobRoutes::post_archives(Exchange& exchange) {
  auto& request = exchange.request;
  if (request.hasContentLength() &&
      request.getContentLength64() > static_cast<Poco::Int64>(k_max_body)) {
    throw HttpError(413, "the body is over " + std::to_string(k_max_body) + " bytes");
  }
  std::string text(k_max_body + 1, '\0');
  request.stream().read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(request.stream().gcount()));
  if (text.size() > k_max_body) {
    throw HttpError(413, "the body is over " + std::to_string(k_max_body) + " bytes");
  }
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(text);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      throw HttpError(400, "the body must be a JSON object {\"build\": …, \"path\": …}");
    }
    object = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw HttpError(400, "the body is not JSON: " + e.message().substr(0, 200));
  }
  const std::string build = json_text(*object, "build", true);
  const std::string path = json_text(*object, "path", false);
  const auto build_segments = folder_segments("build", build);
  if (build_segments.size() != 1) {
    throw HttpError(400, "\"build\" must be one segment (no \"/\")");
  }
  if (path.empty()) {
    submit(exchange, build, build + "_artifacts.zip");
    return;
  }
  const auto segments = folder_segments("path", path);
  submit(exchange, build + "/" + path, segments.back() + "_dir.zip");
}

void JobRoutes::get_job(Exchange& exchange) {
  const std::string& id = exchange.params.at("jobId");
  const auto job = job_id_form(id) ? m_jobs.get(id) : std::nullopt;
  if (!job) {
    throw HttpError(404, k_no_job);
  }
  server::send_text(exchange, 200, "application/json", jobs::job_json(*job) + "\n");
}

void JobRoutes::download(Exchange& exchange) {
  const std::string& name = exchange.params.at("name");
  std::optional<std::string> path;
  if (!shared::store::check_object_name(name)) {
    path = m_store.local_path(name); // nullopt: a remote store (its URLs lead there)
  }
  if (!path) {
    throw HttpError(404, k_no_archive);
  }
  const shared::fs::Descriptor file(::open(path->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    throw HttpError(404, k_no_archive);
  }
  // The download name of the job whose archive this is ("<job id>.zip"), else the object's.
  std::string filename = name;
  const std::string suffix = ".zip";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const std::string id = name.substr(0, name.size() - suffix.size());
    if (job_id_form(id)) {
      try {
        if (const auto job = m_jobs.get(id)) {
          filename = job->name;
        }
      } catch (const shared::error::Error&) {
        // the database is away: the object's own name will do
      }
    }
  }
  send_open_file(exchange, file.get(), info, "application/zip", filename, true);
}

InProcessWorkers::InProcessWorkers(int count, jobs::WorkerOptions options, jobs::JobStore& jobs,
                                   shared::store::ObjectStore& store, shared::log::Logger& logger) {
  const auto outer_stop = options.stop;
  options.stop = [this, outer_stop] { return m_stop.load() || (outer_stop && outer_stop()); };
  for (int i = 0; i < count; ++i) {
    jobs::WorkerOptions own = options;
    own.worker_id += "/" + std::to_string(i + 1);
    m_threads.emplace_back([own, &jobs, &store, &logger] {
      try {
        jobs::run_worker(jobs, store, own, logger);
      } catch (const std::exception& e) { // run_worker keeps trying; only a bug gets here
        logger.error("worker " + own.worker_id + " stopped: " + e.what());
      }
    });
  }
}

InProcessWorkers::~InProcessWorkers() {
  stop();
}

void InProcessWorkers::stop() {
  m_stop = true;
  for (auto& thread : m_threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

} // namespace tasks::download_dir_zip
