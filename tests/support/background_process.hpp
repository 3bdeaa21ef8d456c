// A process that runs while the test goes on (a server, a worker to be killed mid-job), in its
// own process group, stopped by the destructor.
#pragma once

#include "tests/support/process.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace tests::support {

/// Starts argv[0] (a path) with argv in its own process group, stdin from /dev/null, stdout
/// and stderr to `log_path`, with the environment of ProcessOptions (set_env, unset_env; the
/// signal fields are ignored). Dies with the test process's thread that started it
/// (PR_SET_PDEATHSIG, SIGKILL). The destructor sends SIGTERM to the group, SIGKILL after 5 s,
/// and reaps it.
class BackgroundProcess {
public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& log_path,
                    const ProcessOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return m_pid; }
  /// Whether it still runs (not yet reaped by wait()/running()); reaps it when it exited.
  bool running();
  /// Sends `signal` to the whole group.
  void signal(int signal);
  /// Waits for it to exit; its exit status, or 128 + signal number. Idempotent.
  int wait();
  /// What it wrote so far.
  std::string log() const;

private:
  pid_t m_pid = -1;
  int m_status = -1;
  std::string m_log_path;
};

} // namespace tests::support
