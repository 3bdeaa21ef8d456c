#include "tests/support/background_process.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tests::support {
namespace {

int status_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv_in,
                                     const std::string& log_path, const ProcessOptions& options)
    : m_log_path(log_path) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = child_environment(options);
  std::vector<char*> argv_ptrs = exec_pointers(argv);
  std::vector<char*> env_ptrs = exec_pointers(env);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    throw std::runtime_error("BackgroundProcess: cannot open " + log_path + " or /dev/null");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  ::setpgid(pid, pid);
  m_pid = pid;
}

BackgroundProcess::~BackgroundProcess() {
  if (m_status >= 0 || m_pid <= 0) {
    return;
  }
  ::kill(-m_pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (m_status < 0) {
    ::kill(-m_pid, SIGKILL);
    wait();
  }
}

bool BackgroundProcess::running() {
  if (m_status >= 0) {
    return false;
  }
  int status = 0;
  const pid_t done = ::waitpid(m_pid, &status, WNOHANG);
  if (done == m_pid) {
    m_status = status_code(status);
    return false;
  }
  return true;
}

void BackgroundProcess::signal(int signal) {
  if (m_status < 0) {
    ::kill(-m_pid, signal);
  }
}

int BackgroundProcess::wait() {
  if (m_status >= 0) {
    return m_status;
  }
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return m_status = -1;
    }
  }
  m_status = status_code(status);
  return m_status;
}

std::string BackgroundProcess::log() const {
  std::ifstream in(m_log_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace tests::support
