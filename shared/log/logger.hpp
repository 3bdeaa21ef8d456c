// Logging in the host CI system's language.
//
// Dialects:
//   plain   text for a terminal or a file: "warning: …", "error: …" on stderr
//   azure   Azure Pipelines logging commands (##vso[task.logissue …], ##vso[task.setprogress …],
//           ##vso[task.complete …], ##[group]); learn.microsoft.com "Logging commands"
//   github  GitHub Actions workflow commands (::error::, ::warning::, ::group::,
//           ::add-mask::); docs.github.com "Workflow commands for GitHub Actions"
// Every line goes through the secret mask first. Thread-safe.
#pragma once

#include <functional>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shared::log {

enum class Dialect { plain, azure, github };

/// Reads an environment variable; nullopt when unset. Lets tests supply an environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment.
EnvLookup process_environment();

/// azure when TF_BUILD is set, github when GITHUB_ACTIONS is set, else plain.
Dialect detect_dialect(const EnvLookup& env);

/// "plain", "azure", "github" → that dialect; "auto" → detect_dialect(env). Throws
/// std::invalid_argument for anything else.
Dialect parse_dialect(std::string_view name, const EnvLookup& env);

/// How a task ended, for Azure's task.complete.
enum class Result { succeeded, succeeded_with_issues, failed };

/// Writes log lines in one dialect. Logging commands go to `out` (the CI agents read
/// stdout); in the plain dialect warnings and errors go to `err`.
class Logger {
public:
  Logger(Dialect dialect, std::ostream& out, std::ostream& err);

  Dialect dialect() const { return m_dialect; }

  /// Masks `secret` as "***" in every later line, and tells the CI system to mask it too
  /// (::add-mask:: / ##vso[task.setsecret]). Empty strings are ignored.
  void add_secret(const std::string& secret);

  /// `text` with every secret replaced by "***".
  std::string mask(std::string_view text) const;

  void debug(std::string_view message); ///< shown only when verbose
  void info(std::string_view message);
  void warning(std::string_view message);
  void error(std::string_view message);

  void group_begin(std::string_view title);
  void group_end();

  /// Overall progress, 0–100. Azure: task.setprogress. Others: nothing (see progress/).
  void set_progress(int percent, std::string_view operation);

  /// The task's result. Azure: task.complete; others: nothing (the exit status says it).
  void complete(Result result, std::string_view message);

  /// A transient status line on a terminal (plain dialect): redrawn in place on `err`,
  /// cleared before every log line and by an empty `text`.
  void set_status_line(std::string_view text);

  void set_verbose(bool verbose) { m_verbose = verbose; }

  /// Writes everything to `err` from now on, for a task whose standard output carries data
  /// (an archive written to "-"). Call before any other thread logs.
  void send_output_to_error() { m_out = &m_err; }

  /// The number of warning() calls so far, for "succeeded with issues".
  std::size_t warning_count() const;

private:
  void write_line(std::ostream& stream, std::string_view line);
  std::string mask_locked(std::string_view text) const;

  Dialect m_dialect;
  std::ostream* m_out; // `out`, or `err` once stdout carries data
  std::ostream& m_err;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_secrets;
  std::string m_status_line;
  std::size_t m_warnings = 0;
  bool m_verbose = false;
};

/// Escapes text for the data part of an Azure logging command ('%' '\r' '\n').
std::string escape_azure_data(std::string_view text);
/// Escapes text for the data part of a GitHub workflow command ('%' '\r' '\n').
std::string escape_github_data(std::string_view text);

} // namespace shared::log
