// Running an executable as a CI agent would: arguments, a controlled environment, and its
// stdout, stderr and exit status captured.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tests::support {

/// How to run a process.
struct ProcessOptions {
  /// Variables to set (over the test's own environment).
  std::map<std::string, std::string> set_env;
  /// Variables to remove; CI markers (TF_BUILD, GITHUB_ACTIONS) and INPUT_* are always
  /// removed unless set in set_env, so tests do not depend on where they run.
  std::vector<std::string> unset_env;
  /// Run as this uid/gid (only when the test runs as root); nullopt = unchanged.
  std::optional<unsigned> run_as_uid;
  /// Send this signal after `signal_after_ms` milliseconds (0 = never), or, when `signal_when`
  /// is set, as soon as it returns true (polled every millisecond while the process runs).
  int signal = 0;
  int signal_after_ms = 0;
  std::function<bool()> signal_when;
};

/// What a process did.
struct ProcessResult {
  int exit_code = -1; ///< exit status, or 128 + signal number when killed by a signal
  std::string out;    ///< everything written to stdout
  std::string err;    ///< everything written to stderr
};

/// The environment a child gets under `options` ("NAME=value" strings): the test's own,
/// without CI markers and INPUT_* (unless set), with set_env over it and unset_env removed.
std::vector<std::string> child_environment(const ProcessOptions& options);

/// `strings` as the NULL-terminated char* array execve() takes (pointing into `strings`, which
/// must outlive it).
std::vector<char*> exec_pointers(std::vector<std::string>& strings);

/// Runs argv[0] (a path) with argv, waits for it, returns its result. Throws
/// std::runtime_error when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

} // namespace tests::support
