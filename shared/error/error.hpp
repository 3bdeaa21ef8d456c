// Errors and exit statuses shared by every task.
//
// Library code throws these (or returns results); only shared::task::run() turns them into a
// process exit status, through exit_code_for(). The table is documented in README.md
// ("Exit status") and printed by every task's --help.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace shared::error {

/// Process exit statuses, the same for every task.
enum class ExitCode : int {
  success = 0,       ///< everything asked for was done
  items_failed = 1,  ///< some items failed; the others were done
  usage = 2,         ///< bad input or usage: nothing was done
  network = 3,       ///< a network or server error that retries did not cure
  integrity = 4,     ///< a hash or size did not match
  io = 5,            ///< a local file could not be read or written
  internal = 70,     ///< a bug: an unexpected exception (sysexits EX_SOFTWARE)
  interrupted = 130, ///< SIGINT or SIGTERM; partial outputs were removed
};

/// One row of the exit-status table.
struct ExitCodeInfo {
  ExitCode code;
  const char* meaning;
};

/// Every exit status with its one-line meaning, in numeric order.
const std::vector<ExitCodeInfo>& exit_code_table();

/// An error with a one-line, user-facing message and the exit status it maps to.
class Error : public std::runtime_error {
public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ExitCode code() const noexcept { return m_code; }

private:
  ExitCode m_code;
};

/// Bad input or usage (exit status 2). The message names the input.
class UsageError : public Error {
public:
  explicit UsageError(const std::string& message) : Error(ExitCode::usage, message) {}
};

/// A local file-system failure (exit status 5). The message names the path.
class IoError : public Error {
public:
  explicit IoError(const std::string& message) : Error(ExitCode::io, message) {}
};

/// A hash or size mismatch (exit status 4).
class IntegrityError : public Error {
public:
  explicit IntegrityError(const std::string& message) : Error(ExitCode::integrity, message) {}
};

/// The run was interrupted by a signal (exit status 130).
class Interrupted : public Error {
public:
  Interrupted() : Error(ExitCode::interrupted, "interrupted") {}
};

/// The exit status for an exception caught at the top of a task: Error's own code,
/// ExitCode::internal for anything else.
ExitCode exit_code_for(const std::exception& e) noexcept;

/// "<what>: <strerror(errnum)>", for messages about failed system calls.
std::string system_message(const std::string& what, int errnum);

} // namespace shared::error
