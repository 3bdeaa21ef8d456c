// The Markdown tables of a task's inputs that README.md and docs/inputs.md hold between
// `<!-- inputs: ... -->` markers; scripts/readme-inputs.sh rewrites or checks them.
#pragma once

#include "shared/task/manifest.hpp"

#include <string>
#include <vector>

namespace manifest_compiler {

/// Which inputs a table shows, and how much of their help.
struct TableOptions {
  /// Group names to show ("main": the inputs without a group), in the order of --help.
  /// Empty: every group, one table each, under the group's display name.
  std::vector<std::string> groups;
  /// Only the first sentence of each input's help.
  bool brief = false;
};

/// The inputs of `manifest` as Markdown tables: input, flag, environment variable(s),
/// default, description. Throws std::runtime_error for a group the manifest does not have.
std::string input_tables(const shared::task::Manifest& manifest, const TableOptions& options);

/// The first sentence of `text`: up to the first ". " not part of "e.g." or "i.e.".
std::string first_sentence(const std::string& text);

} // namespace manifest_compiler
