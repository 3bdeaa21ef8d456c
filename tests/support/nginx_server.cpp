#include "tests/support/nginx_server.hpp"

#include "tests/support/loopback.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace tests::support {
namespace {

constexpr int kStartAttempts = 5;                       // fresh ports tried when bind fails
constexpr auto kStartTimeout = std::chrono::seconds(5); // per attempt, until connections work
constexpr auto kStopTimeout = std::chrono::seconds(5);  // SIGTERM, then SIGKILL
constexpr auto kPollInterval = std::chrono::milliseconds(10);

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path);
}

/// /usr/sbin/nginx, else the first `nginx` on PATH.
std::string find_nginx() {
  if (is_executable("/usr/sbin/nginx")) {
    return "/usr/sbin/nginx";
  }
  const char* path = std::getenv("PATH");
  std::istringstream path_folders(path != nullptr ? path : "");
  for (std::string folder; std::getline(path_folders, folder, ':');) {
    if (!folder.empty() && is_executable(folder + "/nginx")) {
      return folder + "/nginx";
    }
  }
  throw std::runtime_error("nginx not installed: run scripts/install-deps.sh");
}

/// The whole file, or "" when it cannot be read.
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The last `count` lines of `text`.
std::string last_lines(const std::string& text, int count) {
  std::size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') {
    --start;
  }
  for (int i = 0; i < count && start > 0; ++i) {
    const std::size_t newline = text.rfind('\n', start - 1);
    start = newline == std::string::npos ? 0 : newline;
  }
  return text.substr(start == 0 ? 0 : start + 1);
}

std::string make_config(int port, const std::string& root, const NginxOptions& options) {
  std::ostringstream conf;
  conf << "daemon off;\n"
       << "worker_processes 1;\n"
       << "pid logs/nginx.pid;\n"
       << "error_log logs/error.log warn;\n";
  if (::geteuid() == 0) {
    // Workers would otherwise run as nobody and could not read 0700 temp folders.
    conf << "user root;\n";
  }
  conf << "events { worker_connections 1024; }\n"
       << "http {\n";
  if (std::filesystem::exists("/etc/nginx/mime.types")) {
    conf << "  include /etc/nginx/mime.types;\n";
  }
  conf << "  default_type application/octet-stream;\n"
       << "  sendfile on;\n"
       << "  access_log logs/access.log;\n"
       << "  client_body_temp_path tmp/cb;\n"
       << "  proxy_temp_path tmp/p;\n"
       << "  fastcgi_temp_path tmp/f;\n"
       << "  uwsgi_temp_path tmp/u;\n"
       << "  scgi_temp_path tmp/s;\n"
       << "  server {\n"
       << "    listen 127.0.0.1:" << port << (options.tls_certificate.empty() ? "" : " ssl")
       << ";\n"
       << "    root \"" << root << "\";\n"
       << "    location / {\n"
       << "      autoindex on;\n"
       << "      autoindex_format "
       << (options.autoindex_format == AutoindexFormat::json ? "json" : "html") << ";\n"
       << "    }\n";
  if (!options.tls_certificate.empty()) {
    conf << "    ssl_certificate \"" << options.tls_certificate << "\";\n"
         << "    ssl_certificate_key \"" << options.tls_key << "\";\n";
  }
  for (const auto& line : options.extra_server_lines) {
    conf << "    " << line << "\n";
  }
  conf << "  }\n"
       << "}\n";
  return conf.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
}

/// The PID in nginx's pid file, or -1.
pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  if (!(in >> pid)) {
    return -1;
  }
  return static_cast<pid_t>(pid);
}

} // namespace

NginxServer::NginxServer(const std::string& root_in, const NginxOptions& options) {
  const std::string nginx = find_nginx();
  const std::string root = std::filesystem::absolute(root_in).lexically_normal().string();
  if (!std::filesystem::is_directory(root)) {
    throw std::runtime_error("NginxServer: root is not a folder: " + root);
  }
  if (root.find_first_of("\"\\$\n") != std::string::npos) {
    throw std::runtime_error("NginxServer: root cannot be written in nginx.conf: " + root);
  }

  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/at-nginx-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  m_prefix = pattern;

  try {
    std::filesystem::create_directories(m_prefix + "/logs");
    std::filesystem::create_directories(m_prefix + "/tmp");
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
      if (try_start(nginx, root, options)) {
        return;
      }
    }
    throw std::runtime_error("nginx could not bind a free loopback port in " +
                             std::to_string(kStartAttempts) + " attempts; error log:\n" +
                             log_tail());
  } catch (...) {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(m_prefix, ignored);
    throw;
  }
}

NginxServer::~NginxServer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(m_prefix, ignored);
}

std::string NginxServer::url(const std::string& path) const {
  return std::string(m_tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(m_port) + path;
}

bool NginxServer::try_start(const std::string& nginx, const std::string& root,
                            const NginxOptions& options) {
  m_port = free_port();
  m_tls = !options.tls_certificate.empty();
  const std::string error_log = m_prefix + "/logs/error.log";
  const std::string stderr_log = m_prefix + "/logs/stderr.log";
  const std::string pid_file = m_prefix + "/logs/nginx.pid";
  write_text(m_prefix + "/nginx.conf", make_config(m_port, root, options));
  write_text(error_log, ""); // this attempt's messages only
  std::error_code ignored;
  std::filesystem::remove(pid_file, ignored);

  // Everything the child needs is prepared before fork: it only calls async-signal-safe
  // functions afterwards.
  std::vector<std::string> args = {nginx,        "-p", m_prefix + "/",  "-c",
                                   "nginx.conf", "-e", "logs/error.log"};
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const int out_fd = ::open(stderr_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || null_fd < 0) {
    if (out_fd >= 0) {
      ::close(out_fd);
    }
    if (null_fd >= 0) {
      ::close(null_fd);
    }
    throw std::runtime_error("cannot open " + stderr_log + " or /dev/null");
  }
  const pid_t parent = ::getpid();
  const auto bind_failed = [&] {
    const std::string message = "Address already in use";
    return slurp(error_log).find(message) != std::string::npos ||
           slurp(stderr_log).find(message) != std::string::npos;
  };

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out_fd);
    ::close(null_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    // Own process group: stop() signals master and workers together. If the test process
    // dies without running destructors, the master gets SIGTERM and shuts down its workers
    // (note: PDEATHSIG follows the thread that forked, so create servers on a thread that
    // outlives them).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0); // sockets and pipes of the test stay out of nginx
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(null_fd);
  ::setpgid(pid, pid); // also in the parent, so stop() cannot race the child's own call
  m_pid = pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      if (bind_failed()) {
        return false;
      }
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      throw std::runtime_error("nginx exited with status " + std::to_string(code) +
                               " while starting; error log:\n" + log_tail());
    }
    if (bind_failed()) {
      stop(); // nginx would retry the same port for 2.5 s; take another one now
      return false;
    }
    // The pid file is written after nginx has bound its port, so a connection then reaches
    // this nginx and not whoever else might have taken the port.
    if (read_pid_file(pid_file) == m_pid && accepts_connections(m_port)) {
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  throw std::runtime_error("nginx did not accept connections on 127.0.0.1:" +
                           std::to_string(m_port) + " within 5 s; error log:\n" + log_tail());
}

void NginxServer::stop() {
  if (m_pid <= 0) {
    return;
  }
  ::kill(-m_pid, SIGTERM); // fast shutdown of master and workers
  // Wait without reaping (WNOWAIT): while the master is a zombie its PID, which is also the
  // group ID, cannot be reused, so the group can still be killed safely afterwards.
  const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  bool exited = false;
  while (!exited) {
    siginfo_t info{};
    const bool timed_out = std::chrono::steady_clock::now() >= deadline;
    if (timed_out) {
      ::kill(-m_pid, SIGKILL);
    }
    const int flags = WEXITED | WNOWAIT | (timed_out ? 0 : WNOHANG);
    if (::waitid(P_PID, static_cast<id_t>(m_pid), &info, flags) != 0) {
      if (errno == EINTR) {
        continue;
      }
      break; // not our child any more (ECHILD): nothing to wait for
    }
    exited = info.si_pid == m_pid;
    if (!exited) {
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  ::kill(-m_pid, SIGKILL); // any worker that outlived its master
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
  }
  m_pid = -1;
}

std::string NginxServer::log_tail() const {
  std::string tail = last_lines(slurp(m_prefix + "/logs/error.log"), 20);
  if (tail.empty()) { // nginx could not even open its error log: what it wrote to stderr
    tail = last_lines(slurp(m_prefix + "/logs/stderr.log"), 20);
  }
  return tail.empty() ? "(empty)" : tail;
}

} // namespace tests::support
