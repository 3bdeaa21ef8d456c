#include "tests/support/postgres_server.hpp"

#include "tests/support/loopback.hpp"
#include "tests/support/process.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace tests::support {
namespace {

constexpr int kStartAttempts = 5;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t bytes = 2000) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

} // namespace

std::string PostgresServer::bin_folder() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string best;
  int best_version = 0;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string version = entry.path().filename().string();
    const int number = std::atoi(version.c_str());
    if (number > best_version && fs::exists(entry.path() / "bin/initdb")) {
      best_version = number;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

PostgresServer::PostgresServer() {
  m_bin = bin_folder();
  if (m_bin.empty()) {
    throw std::runtime_error(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run "
        "scripts/install-deps.sh");
  }
  std::string pattern = "/tmp/at-pg-XXXXXX"; // /tmp: the postgres user must reach it
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  m_folder = pattern;
  try {
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) {
        throw std::runtime_error("no postgres user to run PostgreSQL as (install postgresql)");
      }
      if (::chown(m_folder.c_str(), user->pw_uid, user->pw_gid) != 0) {
        throw std::runtime_error("cannot chown " + m_folder + " to postgres");
      }
    }
    const auto init =
        run_process(as_server_user({m_bin + "/initdb", "-D", m_folder + "/data", "-A", "trust",
                                    "-U", "postgres", "-E", "UTF8", "--no-sync"}));
    if (init.exit_code != 0) {
      throw std::runtime_error("initdb failed: " + tail(init.err + init.out));
    }
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
      if (try_start()) {
        return;
      }
    }
    throw std::runtime_error("PostgreSQL did not start on a free port in " +
                             std::to_string(kStartAttempts) + " attempts; log:\n" +
                             tail(slurp(m_folder + "/log")));
  } catch (...) {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(m_folder, ignored);
    throw;
  }
}

std::vector<std::string> PostgresServer::as_server_user(std::vector<std::string> argv) const {
  if (::geteuid() != 0) {
    return argv;
  }
  std::vector<std::string> wrapped = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

bool PostgresServer::try_start() {
  m_port = free_port();
  const auto start = run_process(as_server_user(
      {m_bin + "/pg_ctl", "-D", m_folder + "/data", "-l", m_folder + "/log", "-w", "-t", "30", "-o",
       "-p " + std::to_string(m_port) + " -k " + m_folder +
           " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
       "start"}));
  if (start.exit_code == 0) {
    m_started = true;
    return true;
  }
  if (slurp(m_folder + "/log").find("Address already in use") != std::string::npos) {
    return false;
  }
  throw std::runtime_error("pg_ctl start failed: " + tail(start.err + start.out) + "\nlog:\n" +
                           tail(slurp(m_folder + "/log")));
}

PostgresServer::~PostgresServer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(m_folder, ignored);
}

void PostgresServer::stop() {
  if (!m_started) {
    return;
  }
  m_started = false;
  const auto stopped = run_process(
      as_server_user({m_bin + "/pg_ctl", "-D", m_folder + "/data", "-m", "fast", "-w", "stop"}));
  if (stopped.exit_code != 0) {
    std::ifstream pid_file(m_folder + "/data/postmaster.pid");
    long pid = 0;
    if (pid_file >> pid && pid > 0) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
  }
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(m_port) + "/" + database;
}

void PostgresServer::create_database(const std::string& name) {
  const auto created = run_process({m_bin + "/psql", "-h", "127.0.0.1", "-p",
                                    std::to_string(m_port), "-U", "postgres", "-d", "postgres",
                                    "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE " + name});
  if (created.exit_code != 0) {
    throw std::runtime_error("CREATE DATABASE " + name + " failed: " + created.err);
  }
}

} // namespace tests::support
