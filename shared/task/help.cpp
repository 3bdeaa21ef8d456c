#include "shared/task/help.hpp"

#include "shared/error/error.hpp"

#include <sstream>

namespace shared::task {
namespace {

std::string type_hint(const InputSpec& spec) {
  switch (spec.type) {
  case InputType::boolean:
    return "[=true|false]";
  case InputType::integer:
    return " <int>";
  case InputType::number:
    return " <number>";
  case InputType::size:
    return " <size>";
  case InputType::path:
    return " <path>";
  case InputType::multi_line:
    return " <line>...";
  case InputType::pick_list: {
    std::string choices;
    for (const auto& option : spec.options) {
      choices += (choices.empty() ? "" : "|") + option;
    }
    return " <" + choices + ">";
  }
  case InputType::string:
    break;
  }
  return " <text>";
}

// Wraps `text` at 76 columns with `indent` spaces before each line.
void wrap(std::ostream& out, const std::string& text, std::size_t indent) {
  const std::size_t width = 76;
  std::istringstream words(text);
  std::string word;
  std::size_t column = 0;
  while (words >> word) {
    if (column > 0 && column + 1 + word.size() > width) {
      out << '\n';
      column = 0;
    }
    if (column == 0) {
      out << std::string(indent, ' ');
      column = indent;
    } else {
      out << ' ';
      ++column;
    }
    out << word;
    column += word.size();
  }
  if (column > 0) {
    out << '\n';
  }
}

void describe_input(std::ostream& out, const InputSpec& spec) {
  out << "  ";
  if (!spec.short_flag.empty()) {
    out << "-" << spec.short_flag << ", ";
  }
  out << spec.flag() << type_hint(spec) << '\n';
  std::string facts = spec.environment_variable();
  for (const auto& alias : spec.environment_aliases) {
    facts += " or " + alias;
  }
  if (spec.required) {
    facts += "; required";
  }
  if (!spec.default_value.empty()) {
    facts += "; default: " + spec.default_value;
  }
  if (spec.secret) {
    facts += "; secret (masked in logs)";
  }
  wrap(out, spec.label + ". " + spec.help + " [" + facts + "]", 6);
}

} // namespace

std::string format_help(const Manifest& manifest) {
  std::ostringstream out;
  out << manifest.name << ' ' << manifest.version << " - " << manifest.friendly_name << "\n\n";
  wrap(out, manifest.description, 0);
  out << "\nUsage: " << manifest.name << " [options]";
  for (const auto& spec : manifest.inputs) {
    if (spec.positional) {
      out << " [" << kebab_case(spec.name) << "]";
    }
  }
  out << "\n\nEach input comes from its flag, else from its environment variable, else from its\n"
         "default. Booleans: true/false, yes/no, on/off, 1/0. multiLine: one value per line,\n"
         "or the flag repeated.\n";

  std::vector<InputGroup> groups = {{"", "Inputs"}};
  groups.insert(groups.end(), manifest.groups.begin(), manifest.groups.end());
  for (const auto& group : groups) {
    bool header = false;
    for (const auto& spec : manifest.inputs) {
      if (spec.group != group.name) {
        continue;
      }
      if (!header) {
        out << '\n' << group.display_name << ":\n";
        header = true;
      }
      describe_input(out, spec);
    }
  }
  out << "\n  -h, --help     show this help\n      --version  show the version\n";
  out << "\nExit status:\n";
  for (const auto& row : error::exit_code_table()) {
    const std::string code = std::to_string(static_cast<int>(row.code));
    out << "  " << code << std::string(5 - code.size(), ' ') << row.meaning << '\n';
  }
  return out.str();
}

std::string format_version(const Manifest& manifest) {
  return manifest.name + ' ' + manifest.version;
}

} // namespace shared::task
