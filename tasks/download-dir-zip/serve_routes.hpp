// download-dir-zip serve: the synchronous routes. Folders under the root as ZIP archives made
// on the fly (/archive/<name>/ and /v4/builds/{id}/artifacts…), and
// single files, answered from the local tree without staging anything on disk.
#pragma once

#include "shared/fs/descriptor.hpp"
#include "shared/log/logger.hpp"
#include "shared/server/router.hpp"
#include "shared/zip/crc_cache.hpp"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace tasks::download_dir_zip {

/// What the archive routes need to know.
struct ArchiveOptions {
  std::string root;                        ///< the folder whose subfolders are served
  std::string archive_name = "{name}.zip"; ///< /archive/ download name; {name} = the folder
  std::uint64_t max_download_size = 0;     ///< /v4/ routes: bytes of files; 0 = no limit
  bool store_symlinks = false;             ///< in-tree symlinks as link entries, else skipped
  int deflate_level = 6;                   ///< zlib level for ?compress=deflate
};

/// The routes of the synchronous service and their shared state (root folder, CRC cache).
/// Thread-safe once constructed; must outlive the Service that uses its routes.
class ArchiveRoutes {
public:
  /// Opens the root folder. Throws shared::error::UsageError naming --root when it is not a
  /// folder.
  ArchiveRoutes(ArchiveOptions options, shared::log::Logger& logger);
  ArchiveRoutes(const ArchiveRoutes&) = delete;
  ArchiveRoutes& operator=(const ArchiveRoutes&) = delete;

  /// Registers on `router` (all with signed links when the service has a secret):
  ///   GET /archive/{name}                       <root>/<name>/ as <archive_name>
  ///   GET /v4/builds/{id}/artifacts             <root>/<id>/ as <id>_artifacts.zip
  ///   GET /v4/builds/{id}/artifacts/{path+}     with dir=true: <root>/<id>/<path>/ as
  ///                                             <last>_dir.zip; else the one file
  ///                                             (type=preview inline, else attachment)
  void register_routes(shared::server::Router& router);

  /// The CRC cache (for tests and logs).
  const shared::zip::CrcCache& crc_cache() const { return m_crcs; }

private:
  void folder_archive(shared::server::Exchange& exchange, const std::vector<std::string>& folder,
                      const std::string& filename, bool limited);
  void single_file(shared::server::Exchange& exchange, const std::vector<std::string>& folder,
                   const std::vector<std::string>& path, bool as_attachment);

  ArchiveOptions m_options;
  shared::log::Logger& m_logger;
  shared::fs::Descriptor m_root_fd;
  shared::zip::CrcCache m_crcs;
};

/// Answers 413 with a JSON error: {"statusCode":413,"error":"Payload Too
/// Large","message":…,"size":`size`,"limit":`limit`} (both in bytes).
void send_too_large(shared::server::Exchange& exchange, std::uint64_t size, std::uint64_t limit);

/// `Content-Disposition` for `filename` (`attachment` or `inline`; RFC 6266, with filename*).
std::string content_disposition(const std::string& filename, bool attachment);

/// Answers GET/HEAD with the regular file open at `fd` (`info` its fstat): ETag from inode,
/// size and mtime, If-None-Match (304), Range/If-Range (206/416), the bytes by sendfile(2);
/// `as_attachment` or inline (then with Content-Security-Policy: sandbox). Throws
/// zip::SinkClosed when the client went away.
void send_open_file(shared::server::Exchange& exchange, int fd, const struct stat& info,
                    const std::string& content_type, const std::string& filename,
                    bool as_attachment);

/// `name` for a quoted Content-Disposition filename (RFC 6266 §4.1): bytes outside printable
/// ASCII, '"', '\' and '/' become '_'.
std::string ascii_filename(const std::string& name);

} // namespace tasks::download_dir_zip
