#include "tasks/download-dir-zip/serve_routes.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/open_beneath.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/server/ranged_answer.hpp"
#include "shared/server/response_body.hpp"
#include "shared/task/interrupt.hpp"
#include "shared/zip/crc32.hpp"
#include "shared/zip/layout.hpp"
#include "shared/zip/writer.hpp"
#include "tasks/download-dir-zip/local_plan.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace tasks::download_dir_zip {
namespace {

namespace server = shared::server;
namespace zip = shared::zip;
using server::Exchange;
using server::HttpError;

constexpr const char* k_missing = "The archive does not exist or has been deleted.";

std::string join(const std::vector<std::string>& segments) {
  std::string out;
  for (const auto& s : segments) {
    out += (out.empty() ? "" : "/") + s;
  }
  return out;
}

// The folder `segments` (each already checked by decode_segment) under `root_fd`, following
// no symlink: a symlink anywhere on the way, or anything but a folder, is a 404.
shared::fs::Descriptor open_folder(int root_fd, const std::vector<std::string>& segments) {
  shared::fs::Descriptor folder =
      shared::fs::open_beneath(root_fd, join(segments), O_RDONLY | O_DIRECTORY);
  if (!folder.valid()) {
    throw HttpError(404, k_missing);
  }
  return folder;
}

std::string hex(const shared::hash::Digest& digest, std::size_t bytes) {
  return shared::hash::to_hex(digest, false).substr(0, bytes * 2);
}

// Whether the client is still there: a peer that closed its end shows as POLLRDHUP.
bool client_connected(Exchange& exchange) {
  auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(exchange.request);
  pollfd p{impl.socket().impl()->sockfd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) <= 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
}

// The CRC-32 of every non-empty file of `plan`, from the cache or read (then remembered).
// Stops when the client goes away or the service stops.
void fill_crcs(Exchange& exchange, Plan& plan, int folder_fd, const std::string& key_prefix,
               zip::CrcCache& cache) {
  for (std::size_t i = 0; i < plan.entries.size(); ++i) {
    zip::Entry& entry = plan.entries[i];
    if (entry.kind != zip::EntryKind::file || entry.size == 0) {
      continue;
    }
    const std::string key = key_prefix + entry.source_or_path();
    if (const auto crc = cache.find(key, entry.size, plan.mtime_ns[i])) {
      entry.crc32 = *crc;
      continue;
    }
    if (shared::task::interrupted() || (exchange.stopping != nullptr && *exchange.stopping) ||
        !client_connected(exchange)) {
      throw zip::SinkClosed();
    }
    zip::FileCrc crc;
    try {
      crc = zip::file_crc32(folder_fd, entry.source_or_path());
    } catch (const shared::error::IoError& e) {
      exchange.note = e.what();
      throw HttpError(503, "A file of this folder could not be read; try again later.");
    }
    if (crc.size != entry.size) {
      exchange.note = entry.path + " changed while being read";
      throw HttpError(503, "The folder changed while being read; try again.");
    }
    entry.crc32 = crc.crc32;
    cache.store(key, entry.size, plan.mtime_ns[i], crc.crc32);
  }
}

// A strong ETag from the entries' names, kinds, sizes, modes, mtimes and link targets.
std::string plan_etag(const Plan& plan) {
  std::vector<std::size_t> order(plan.entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return plan.entries[a].path < plan.entries[b].path;
  });
  shared::hash::Sha256 sha;
  const std::string version = "zip-store-1";
  sha.update(version.data(), version.size());
  for (const std::size_t i : order) {
    const zip::Entry& e = plan.entries[i];
    const std::string line = e.path + '\0' + std::to_string(static_cast<int>(e.kind)) + ' ' +
                             std::to_string(e.size) + ' ' + std::to_string(e.mode) + ' ' +
                             std::to_string(plan.mtime_ns[i]) + ' ' + e.link_target + '\n';
    sha.update(line.data(), line.size());
  }
  return "\"" + hex(sha.finish(), 16) + "\"";
}

std::string content_type_for(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> types = {
      {".txt", "text/plain; charset=utf-8"},
      {".log", "text/plain; charset=utf-8"},
      {".md", "text/plain; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".pdf", "application/pdf"},
      {".zip", "application/zip"},
      {".gz", "application/gzip"},
      {".tar", "application/x-tar"},
      {".html", "text/plain; charset=utf-8"},
      {".htm", "text/plain; charset=utf-8"},
  };
  const auto dot = name.rfind('.');
  if (dot != std::string::npos) {
    std::string ext = name.substr(dot);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [suffix, type] : types) {
      if (ext == suffix) {
        return type;
      }
    }
  }
  return "application/octet-stream";
}

} // namespace

std::string ascii_filename(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\' || c == '/' ? '_' : c);
  }
  return out;
}

void send_too_large(server::Exchange& exchange, std::uint64_t size, std::uint64_t limit) {
  Poco::JSON::Object body;
  body.set("statusCode", 413);
  body.set("error", "Payload Too Large");
  body.set("message", "the files add up to " + std::to_string(size) +
                          " bytes, over the download limit of " + std::to_string(limit) + " bytes");
  body.set("size", size);
  body.set("limit", limit);
  std::ostringstream text;
  body.stringify(text);
  server::send_text(exchange, 413, "application/json", text.str() + "\n");
}

std::string content_disposition(const std::string& filename, bool attachment) {
  return std::string(attachment ? "attachment" : "inline") + "; filename=\"" +
         ascii_filename(filename) + "\"; filename*=UTF-8''" + server::percent_encode(filename);
}

ArchiveRoutes::ArchiveRoutes(ArchiveOptions options, shared::log::Logger& logger)
    : m_options(std::move(options)), m_logger(logger) {
  m_root_fd.reset(::open(m_options.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!m_root_fd.valid()) {
    throw shared::error::UsageError(
        shared::error::system_message("--root: \"" + m_options.root + "\" is not a folder", errno));
  }
}

void ArchiveRoutes::register_routes(server::Router& router) {
  const server::RouteOptions signed_route{true};
  router.add(
      "GET", "/archive/{name}",
      [this](Exchange& ex) {
        const std::string& name = ex.params.at("name");
        std::string filename = m_options.archive_name;
        for (auto at = filename.find("{name}"); at != std::string::npos;
             at = filename.find("{name}", at + name.size())) {
          filename.replace(at, 6, name);
        }
        folder_archive(ex, {name}, filename, false);
      },
      signed_route);
  router.add(
      "GET", "/v4/builds/{id}/artifacts",
      [this](Exchange& ex) {
        const std::string& id = ex.params.at("id");
        folder_archive(ex, {id}, id + "_artifacts.zip", true);
      },
      signed_route);
  router.add(
      "GET", "/v4/builds/{id}/artifacts/{path+}",
      [this](Exchange& ex) {
        const std::string& id = ex.params.at("id");
        const auto dir = ex.query.find("dir");
        const auto type = ex.query.find("type");
        const std::string kind = type == ex.query.end() ? "download" : type->second;
        if (kind != "download" && kind != "preview") {
          throw HttpError(400, "type must be download or preview");
        }
        if (dir != ex.query.end() && dir->second == "true") {
          std::vector<std::string> folder = {id};
          folder.insert(folder.end(), ex.rest.begin(), ex.rest.end());
          folder_archive(ex, folder, ex.rest.back() + "_dir.zip", true);
        } else {
          single_file(ex, {id}, ex.rest, kind == "download");
        }
      },
      signed_route);
}

void ArchiveRoutes::folder_archive(Exchange& exchange, const std::vector<std::string>& folder,
                                   const std::string& filename, bool limited) {
  const auto compress = exchange.query.find("compress");
  const bool deflate = compress != exchange.query.end() && compress->second == "deflate";
  if (compress != exchange.query.end() && !deflate && compress->second != "store") {
    throw HttpError(400, "compress must be store or deflate");
  }
  const shared::fs::Descriptor folder_fd = open_folder(m_root_fd.get(), folder);
  const std::string folder_path = "/proc/self/fd/" + std::to_string(folder_fd.get());

  // What goes in: the tree, no link followed; skipped entries are not the client's business.
  Plan plan;
  shared::log::LimitedWarnings quiet(m_logger, 0);
  try {
    plan_folder(plan, folder_path, "", m_options.store_symlinks, nullptr, quiet);
  } catch (const shared::error::IoError& e) {
    exchange.note = e.what();
    throw HttpError(503, "This folder could not be read; try again later.");
  }
  if (plan.skipped > 0) {
    exchange.note = std::to_string(plan.skipped) + " entries skipped";
  }
  if (limited && m_options.max_download_size != 0 &&
      plan.file_bytes > m_options.max_download_size) {
    send_too_large(exchange, plan.file_bytes, m_options.max_download_size);
    return;
  }

  auto& response = exchange.response;
  response.setContentType("application/zip");
  response.set("Content-Disposition", content_disposition(filename, true));
  response.set("Cache-Control", "private, no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  zip::LocalBodyProvider bodies(folder_path);

  if (deflate) { // streamed as it is made: no length, no ranges
    response.set("Accept-Ranges", "none");
    response.setChunkedTransferEncoding(true);
    server::ResponseBody body(exchange);
    if (!exchange.head()) {
      zip::WriteOptions options;
      options.method = zip::Method::deflate;
      options.level = m_options.deflate_level;
      try {
        zip::write_archive(std::move(plan.entries), options, bodies, body);
      } catch (const zip::SinkClosed&) {
        throw;
      } catch (const std::exception& e) {
        exchange.note = e.what();
        body.abort();
      }
    }
    return;
  }

  // Stored: the length and every offset known before the first byte.
  std::vector<zip::Entry> probe = plan.entries;
  for (auto& entry : probe) {
    if (entry.kind == zip::EntryKind::file && entry.size > 0) {
      entry.crc32 = 0; // sizes and offsets do not depend on the CRCs
    }
  }
  const std::uint64_t length = zip::Layout(std::move(probe)).size();
  server::ChosenRange range;
  if (!server::choose_range(exchange, plan_etag(plan), length, range)) {
    return;
  }
  if (exchange.head()) {
    server::ResponseBody headers_only(exchange);
    return;
  }
  fill_crcs(exchange, plan, folder_fd.get(), join(folder) + "/", m_crcs);
  const zip::Layout layout(std::move(plan.entries));
  server::ResponseBody body(exchange);
  try {
    layout.write_range(range.first, range.last, bodies, body);
  } catch (const zip::SinkClosed&) {
    throw;
  } catch (const std::exception& e) {
    exchange.note = e.what(); // a file changed or vanished midway: the client sees a short body
    body.abort();
  }
}

void ArchiveRoutes::single_file(Exchange& exchange, const std::vector<std::string>& folder,
                                const std::vector<std::string>& path, bool as_attachment) {
  const shared::fs::Descriptor folder_fd = open_folder(m_root_fd.get(), folder);
  const shared::fs::Descriptor file =
      shared::fs::open_beneath(folder_fd.get(), join(path), O_RDONLY | O_NONBLOCK);
  struct stat info {};
  if (!file.valid() || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    throw HttpError(404, "The file does not exist or has been deleted.");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (m_options.max_download_size != 0 && size > m_options.max_download_size) {
    send_too_large(exchange, size, m_options.max_download_size);
    return;
  }
  send_open_file(exchange, file.get(), info, content_type_for(path.back()), path.back(),
                 as_attachment);
}

void send_open_file(server::Exchange& exchange, int fd, const struct stat& info,
                    const std::string& content_type, const std::string& filename,
                    bool as_attachment) {
  const auto size = static_cast<std::uint64_t>(info.st_size);
  const std::string stamp = std::to_string(info.st_ino) + "-" + std::to_string(size) + "-" +
                            std::to_string(info.st_mtim.tv_sec) + "." +
                            std::to_string(info.st_mtim.tv_nsec);
  const std::string etag = "\"" + hex(shared::hash::sha256(stamp), 16) + "\"";
  auto& response = exchange.response;
  response.setContentType(content_type);
  response.set("Content-Disposition", content_disposition(filename, as_attachment));
  response.set("Cache-Control", "private, no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  if (!as_attachment) {
    response.set("Content-Security-Policy", "sandbox");
  }
  server::ChosenRange range;
  if (!server::choose_range(exchange, etag, size, range)) {
    return;
  }
  server::ResponseBody body(exchange);
  if (exchange.head() || size == 0) {
    return;
  }
  try {
    if (!server::send_file_range(body, fd, range.first, range.last)) {
      throw zip::SinkClosed();
    }
  } catch (const shared::error::IntegrityError& e) {
    exchange.note = e.what();
    body.abort();
  }
}
} // namespace tasks::download_dir_zip
