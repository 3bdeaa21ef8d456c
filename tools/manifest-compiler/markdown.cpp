#include "tools/manifest-compiler/markdown.hpp"

#include <sstream>
#include <stdexcept>

namespace manifest_compiler {
namespace {

using shared::task::InputGroup;
using shared::task::InputSpec;
using shared::task::InputType;
using shared::task::Manifest;

// `text` as one table cell of GitHub-flavoured Markdown: a `|` would end the cell (also inside
// a code span); outside code spans, characters that would start emphasis, strikethrough, an
// HTML tag or an escape are escaped.
std::string cell(const std::string& text) {
  std::string out;
  bool in_code = false;
  for (const char c : text) {
    if (c == '`') {
      in_code = !in_code;
    } else if (c == '|' || (!in_code && (c == '*' || c == '<' || c == '~' || c == '\\'))) {
      out += '\\';
    }
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

// `text` as a code span; a value holding a backtick is not expected in a manifest.
std::string code(const std::string& text) {
  return "`" + text + "`";
}

std::string flag_cell(const InputSpec& spec) {
  std::string out = spec.short_flag.empty() ? "" : code("-" + spec.short_flag) + ", ";
  out += code(spec.flag());
  if (spec.positional) {
    out += " or the first argument";
  }
  return out;
}

std::string environment_cell(const InputSpec& spec) {
  std::string out = code(spec.environment_variable());
  for (const auto& alias : spec.environment_aliases) {
    out += ", " + code(alias);
  }
  return out;
}

std::string default_cell(const InputSpec& spec) {
  if (spec.required) {
    return "required";
  }
  return spec.default_value.empty() ? "" : code(spec.default_value);
}

std::string description_cell(const InputSpec& spec, bool brief) {
  std::string out = cell(brief ? first_sentence(spec.help) : spec.help);
  if (spec.type == InputType::pick_list) {
    std::string choices;
    for (const auto& option : spec.options) {
      choices += (choices.empty() ? "" : ", ") + code(option);
    }
    out += " One of " + choices + ".";
  }
  if (spec.type == InputType::multi_line) {
    out += " One a line, or the flag repeated.";
  }
  if (spec.secret) {
    out += " Secret: masked in logs.";
  }
  return out;
}

void table(std::ostream& out, const Manifest& manifest, const std::vector<std::string>& groups,
           bool brief) {
  out << "| input | flag | environment | default | description |\n"
      << "|---|---|---|---|---|\n";
  for (const auto& group : groups) {
    for (const auto& spec : manifest.inputs) {
      if (spec.group == group) {
        out << "| " << spec.name << " | " << flag_cell(spec) << " | " << environment_cell(spec)
            << " | " << default_cell(spec) << " | " << description_cell(spec, brief) << " |\n";
      }
    }
  }
}

// The manifest's groups in --help order: the inputs without a group (shown as "Inputs") first.
std::vector<InputGroup> all_groups(const Manifest& manifest) {
  std::vector<InputGroup> groups = {{"", "Inputs"}};
  groups.insert(groups.end(), manifest.groups.begin(), manifest.groups.end());
  return groups;
}

std::string group_name(const Manifest& manifest, const std::string& wanted) {
  if (wanted == "main") {
    return "";
  }
  for (const auto& group : manifest.groups) {
    if (group.name == wanted) {
      return group.name;
    }
  }
  throw std::runtime_error(manifest.name + " has no input group " + wanted);
}

} // namespace

std::string first_sentence(const std::string& text) {
  for (std::size_t end = text.find(". "); end != std::string::npos;
       end = text.find(". ", end + 1)) {
    const bool abbreviation =
        end >= 3 && (text.compare(end - 3, 3, "e.g") == 0 || text.compare(end - 3, 3, "i.e") == 0);
    if (!abbreviation) {
      return text.substr(0, end + 1);
    }
  }
  return text;
}

std::string input_tables(const Manifest& manifest, const TableOptions& options) {
  std::ostringstream out;
  if (!options.groups.empty()) {
    std::vector<std::string> names;
    for (const auto& wanted : options.groups) {
      names.push_back(group_name(manifest, wanted));
    }
    table(out, manifest, names, options.brief);
    return out.str();
  }
  bool first = true;
  for (const auto& group : all_groups(manifest)) {
    bool used = false;
    for (const auto& spec : manifest.inputs) {
      used = used || spec.group == group.name;
    }
    if (!used) {
      continue;
    }
    out << (first ? "" : "\n") << "**" << group.display_name << "**\n\n";
    table(out, manifest, {group.name}, options.brief);
    first = false;
  }
  return out.str();
}

} // namespace manifest_compiler
