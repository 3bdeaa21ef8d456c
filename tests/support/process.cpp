#include "tests/support/process.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tests::support {
namespace {} // namespace

std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string item(*entry);
    const std::string name = item.substr(0, item.find('='));
    bool drop = options.set_env.count(name) > 0 || name == "TF_BUILD" || name == "GITHUB_ACTIONS" ||
                name.rfind("INPUT_", 0) == 0;
    for (const auto& unset : options.unset_env) {
      drop = drop || unset == name;
    }
    if (!drop) {
      env.push_back(item);
    }
  }
  for (const auto& [name, value] : options.set_env) {
    env.push_back(name + "=" + value);
  }
  return env;
}

std::vector<char*> exec_pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) {
    result.push_back(s.data());
  }
  result.push_back(nullptr);
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv_in, const ProcessOptions& options) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = child_environment(options);
  std::vector<char*> argv_ptrs = exec_pointers(argv);
  std::vector<char*> env_ptrs = exec_pointers(env);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    if (options.run_as_uid && ::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(*options.run_as_uid) != 0 ||
          ::setuid(*options.run_as_uid) != 0) {
        ::_exit(126);
      }
    }
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  bool signalled = options.signal == 0;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  while (open_count > 0) {
    const int timeout = signalled ? -1 : options.signal_when ? 1 : 10;
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
        char buffer[65536];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          sinks[i]->append(buffer, static_cast<std::size_t>(n));
        } else {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_count;
        }
      }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const bool due = options.signal_when
                         ? options.signal_when()
                         : elapsed >= std::chrono::milliseconds(options.signal_after_ms);
    if (!signalled && due) {
      ::kill(pid, options.signal);
      signalled = true;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

} // namespace tests::support
