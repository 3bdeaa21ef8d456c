// A private Debian PostgreSQL (15) for the job queue's tests: initdb into a temporary folder,
// pg_ctl start on a free loopback port, stopped and removed by the destructor. As root, the
// server runs as the `postgres` user (initdb refuses root), through runuser.
#pragma once

#include <string>
#include <vector>

namespace tests::support {

class PostgresServer {
public:
  /// Starts the server (trust authentication, superuser "postgres", Unix socket in the temp
  /// folder). Throws std::runtime_error naming what is missing or with the server's log tail.
  PostgresServer();
  /// pg_ctl stop -m fast (SIGKILL to the postmaster if that fails), then removes the folder.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return m_port; }
  /// "postgresql://postgres@127.0.0.1:<port>/<database>".
  std::string url(const std::string& database = "postgres") const;
  /// CREATE DATABASE `name` (letters, digits, '_').
  void create_database(const std::string& name);

  /// The folder of PostgreSQL's binaries (/usr/lib/postgresql/<newest>/bin), or "" when none.
  static std::string bin_folder();

private:
  bool try_start();
  void stop();
  /// argv run as the postgres user when the test runs as root (runuser), else as it is.
  std::vector<std::string> as_server_user(std::vector<std::string> argv) const;

  std::string m_folder;
  std::string m_bin;
  int m_port = 0;
  bool m_started = false;
};

} // namespace tests::support
