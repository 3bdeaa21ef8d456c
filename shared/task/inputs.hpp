// Resolving a task's inputs: the command-line flag, else the environment variable
// INPUT_<NAME> (Azure Pipelines and GitHub Actions set these), else the manifest default.
#pragma once

#include "shared/log/logger.hpp"
#include "shared/task/manifest.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shared::task {

/// Where an input's value came from.
enum class InputSource { flag, environment, default_value, none };

/// The resolved inputs of one run, checked against their types.
class Inputs {
public:
  /// One input's value and where it came from.
  struct Value {
    std::string text;               ///< as given (multiLine: lines joined by '\n')
    std::vector<std::string> lines; ///< multiLine: the non-empty lines
    InputSource source = InputSource::none;
    std::string origin; ///< "--parallel", "INPUT_PARALLEL" or "default"
  };

  Inputs() = default;
  explicit Inputs(const Manifest* manifest) : m_manifest(manifest) {}

  /// The text of input `name`; "" when it has no value. Throws std::out_of_range for a
  /// name the manifest does not declare (a bug).
  const std::string& text(const std::string& name) const;
  /// A boolean input (checked when resolved).
  bool boolean(const std::string& name) const;
  /// An int input (checked when resolved, within the manifest's min/max).
  std::int64_t integer(const std::string& name) const;
  /// A number input, e.g. seconds (checked when resolved, within the manifest's min/max).
  double number(const std::string& name) const;
  /// A size input in bytes (checked when resolved; see format::parse_size).
  std::uint64_t size(const std::string& name) const;
  /// A multiLine input's non-empty lines.
  const std::vector<std::string>& lines(const std::string& name) const;
  /// Whether input `name` has a non-empty value.
  bool has(const std::string& name) const { return !text(name).empty(); }
  /// Where input `name` came from and under which flag or variable.
  const Value& value(const std::string& name) const;

  const Manifest& manifest() const { return *m_manifest; }

  /// Sets a value (used by the resolver and by tests).
  void set(const std::string& name, Value value) { m_values[name] = std::move(value); }

private:
  const Manifest* m_manifest = nullptr;
  std::map<std::string, Value> m_values;
};

/// What the command line asked for.
struct CommandLine {
  bool help = false;    ///< -h/--help: print help and exit 0
  bool version = false; ///< --version: print the version and exit 0
  Inputs inputs;
};

/// Parses argv (argv[0] is skipped) against `manifest` and resolves every input. Throws
/// error::UsageError with a one-line message naming the input, e.g.
/// `--parallel: expected an integer, got "x"` or `INPUT_PARALLEL: expected an integer, …`.
CommandLine parse_command_line(const Manifest& manifest, int argc, const char* const argv[],
                               const log::EnvLookup& env);

/// Parses a boolean as the CI systems write them: true/false, yes/no, on/off, 1/0 (any case).
/// nullopt for anything else.
std::optional<bool> parse_boolean(std::string_view text);

} // namespace shared::task
