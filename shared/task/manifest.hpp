// Task manifests: task-manifests/<task>.yml, the single source of truth for a task's
// inputs. Read and checked at build time (manifest_yaml.hpp, tools/manifest-compiler) and
// compiled into each executable as a Manifest (cmake/EmbedManifest.cmake), so a task starts
// without parsing YAML; command-line flags, environment variables and --help are all
// derived from it. The shape follows Azure
// Pipelines' task.json (name, friendlyName, inputs with type/label/defaultValue/required/
// groupName/helpMarkDown), in YAML.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shared::task {

/// The value types an input may have.
enum class InputType { string, boolean, integer, number, size, path, multi_line, pick_list };

/// One input of a task.
struct InputSpec {
  std::string name; ///< camelCase, e.g. "rootPath"
  InputType type = InputType::string;
  std::string label;         ///< short human name
  std::string default_value; ///< as text; empty = no default
  bool required = false;
  std::string group; ///< e.g. "advanced"; empty = the main group
  std::string help;
  std::vector<std::string> options; ///< pickList choices
  bool secret = false;              ///< masked in every log line
  bool positional = false;          ///< may also be given as the first bare argument
  std::optional<std::int64_t> min;  ///< integers: smallest allowed value
  std::optional<std::int64_t> max;  ///< integers: largest allowed value
  std::string short_flag;           ///< one letter, e.g. "P" for -P; empty = none
  /// More environment variables read, in order, when INPUT_<NAME> is unset or empty (e.g.
  /// PHOTOS_DIR, the variable a service this task replaces used). Manifest key `environment`.
  std::vector<std::string> environment_aliases;

  /// "--root-path": the name in kebab case.
  std::string flag() const;
  /// "INPUT_ROOTPATH": upper case, spaces and dashes as '_' (Azure/GitHub convention).
  std::string environment_variable() const;
};

/// A group of inputs shown together in --help.
struct InputGroup {
  std::string name;
  std::string display_name;
};

/// A task's description and inputs.
struct Manifest {
  std::string name; ///< executable name, e.g. "generate-metadata"
  std::string friendly_name;
  std::string description;
  std::string version;
  std::vector<InputGroup> groups;
  std::vector<InputSpec> inputs; ///< the task's own, then the shared ones

  /// The input called `name`, or nullptr.
  const InputSpec* find(std::string_view name) const;
};

/// "camelCase name" → "camel-case-name".
std::string kebab_case(std::string_view name);

} // namespace shared::task
