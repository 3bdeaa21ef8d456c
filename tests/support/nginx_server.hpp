// A private Debian nginx on 127.0.0.1 serving a folder, started and stopped by the test.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace tests::support {

/// How nginx answers a folder URL (`autoindex_format`).
enum class AutoindexFormat { json, html };

/// What NginxServer serves besides the root folder.
struct NginxOptions {
  /// Listing format for folder URLs; json gives
  /// `[{"name":"a.txt","type":"file","mtime":"…","size":10}, …]`.
  AutoindexFormat autoindex_format = AutoindexFormat::json;
  /// Raw config lines added inside `server {}`, after `root` and `location /`
  /// (e.g. "location /dav/ { dav_methods PUT; }"); each must be complete (`;` or `}`).
  std::vector<std::string> extra_server_lines;
  /// PEM certificate and key files: when both are set the server speaks HTTPS only, and url()
  /// says https.
  std::string tls_certificate;
  std::string tls_key;
};

/// Starts nginx in its constructor (own temp prefix folder, free loopback port, `daemon off`,
/// its own process group) and stops it in its destructor: no nginx process is left behind,
/// and the prefix folder is removed. Throws std::runtime_error when nginx is not installed
/// or does not accept connections within 5 s (the message ends with its error log's tail).
class NginxServer {
public:
  /// Serves `root` (an existing folder; must not contain `"`, `\`, `$` or a newline) with
  /// `autoindex on`.
  explicit NginxServer(const std::string& root, const NginxOptions& options = {});
  /// Stops nginx (SIGTERM to its process group, SIGKILL after 5 s), waits for it, removes
  /// the prefix folder.
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  /// The TCP port nginx listens on at 127.0.0.1.
  int port() const { return m_port; }
  /// "http://127.0.0.1:<port>" + path; `path` is used as given (percent-encode it yourself)
  /// and should start with '/'.
  std::string url(const std::string& path = "/") const;
  /// The master process's PID (also its process group ID).
  pid_t pid() const { return m_pid; }
  /// The prefix folder: nginx.conf, logs/error.log, logs/access.log.
  const std::string& prefix() const { return m_prefix; }

private:
  /// One start on a fresh free port; returns false when nginx could not bind it.
  bool try_start(const std::string& nginx, const std::string& root, const NginxOptions& options);
  /// Stops the process group (if running) and waits for the master; idempotent.
  void stop();
  /// The last lines of nginx's error log (else of its stderr), for exception messages.
  std::string log_tail() const;

  std::string m_prefix;
  int m_port = 0;
  pid_t m_pid = -1;
  bool m_tls = false;
};

} // namespace tests::support
