#include "shared/task/inputs.hpp"

#include "shared/error/error.hpp"
#include "shared/format/units.hpp"

#include <Poco/String.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

namespace po = boost::program_options;

namespace shared::task {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.find_first_not_of(" \t") != std::string::npos) {
      lines.push_back(std::move(line));
    }
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) {
      out.push_back('\n');
    }
    out += line;
  }
  return out;
}

std::optional<double> parse_integer(const std::string& text) {
  std::int64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return static_cast<double>(number);
}

// A decimal number: digits with an optional sign, point and exponent; no hex, inf or nan.
std::optional<double> parse_number(const std::string& text) {
  if (text.empty() || text.find_first_not_of("+-0123456789.eE") != std::string::npos) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) {
    return std::nullopt;
  }
  return number;
}

std::string format_number(double number) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", number);
  return text;
}

// Throws UsageError when `value` does not fit the input's type.
void check_type(const InputSpec& spec, const Inputs::Value& value) {
  const std::string& text = value.text;
  const std::string quoted = "\"" + text + "\"";
  switch (spec.type) {
  case InputType::boolean:
    if (!parse_boolean(text)) {
      throw error::UsageError(value.origin + ": expected true or false, got " + quoted);
    }
    break;
  case InputType::integer:
  case InputType::number: {
    const auto number = spec.type == InputType::integer ? parse_integer(text) : parse_number(text);
    if (!number) {
      const char* expected = spec.type == InputType::integer ? "an integer" : "a number";
      throw error::UsageError(value.origin + ": expected " + expected + ", got " + quoted);
    }
    if (spec.min && *number < *spec.min) {
      throw error::UsageError(value.origin + ": must be at least " + format_number(*spec.min) +
                              ", got " + text);
    }
    if (spec.max && *number > *spec.max) {
      throw error::UsageError(value.origin + ": must be at most " + format_number(*spec.max) +
                              ", got " + text);
    }
    break;
  }
  case InputType::size:
    if (!format::parse_size(text)) {
      throw error::UsageError(value.origin +
                              ": expected a size such as 0, 4096, 500MB or 10GiB, got " + quoted);
    }
    break;
  case InputType::pick_list:
    if (std::find(spec.options.begin(), spec.options.end(), text) == spec.options.end()) {
      std::string choices;
      for (const auto& option : spec.options) {
        choices += (choices.empty() ? "" : ", ") + option;
      }
      throw error::UsageError(value.origin + ": expected one of " + choices + ", got " + quoted);
    }
    break;
  case InputType::string:
  case InputType::path:
  case InputType::multi_line:
    break;
  }
}

std::string flag_spec(const InputSpec& spec) {
  std::string name = kebab_case(spec.name);
  if (!spec.short_flag.empty()) {
    name += "," + spec.short_flag;
  }
  return name;
}

po::options_description describe_options(const Manifest& manifest) {
  po::options_description options;
  options.add_options()("help,h", "")("version", "");
  for (const auto& spec : manifest.inputs) {
    const std::string name = flag_spec(spec);
    if (spec.type == InputType::multi_line) {
      options.add_options()(name.c_str(), po::value<std::vector<std::string>>()->composing(), "");
    } else if (spec.type == InputType::boolean) {
      options.add_options()(name.c_str(), po::value<std::string>()->implicit_value("true"), "");
    } else {
      options.add_options()(name.c_str(), po::value<std::string>(), "");
    }
  }
  return options;
}

po::variables_map parse_argv(const Manifest& manifest, int argc, const char* const argv[]) {
  const po::options_description options = describe_options(manifest);
  po::positional_options_description positional;
  for (const auto& spec : manifest.inputs) {
    if (spec.positional) {
      positional.add(kebab_case(spec.name).c_str(), 1);
    }
  }
  po::variables_map map;
  try {
    po::store(
        po::command_line_parser(argc, argv)
            .options(options)
            .positional(positional)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        map);
    po::notify(map);
  } catch (const po::too_many_positional_options_error&) {
    throw error::UsageError("too many arguments (see --help)");
  } catch (const po::error& e) {
    throw error::UsageError(std::string(e.what()) + " (see --help)");
  }
  return map;
}

} // namespace

std::optional<bool> parse_boolean(std::string_view text) {
  const std::string value = Poco::toLower(std::string(text));
  if (value == "true" || value == "yes" || value == "on" || value == "1") {
    return true;
  }
  if (value == "false" || value == "no" || value == "off" || value == "0") {
    return false;
  }
  return std::nullopt;
}

const Inputs::Value& Inputs::value(const std::string& name) const {
  const auto it = m_values.find(name);
  if (it == m_values.end()) {
    throw std::out_of_range("no input named " + name);
  }
  return it->second;
}

const std::string& Inputs::text(const std::string& name) const {
  return value(name).text;
}

bool Inputs::boolean(const std::string& name) const {
  return parse_boolean(text(name)).value_or(false);
}

std::int64_t Inputs::integer(const std::string& name) const {
  const std::string& value = text(name);
  std::int64_t number = 0;
  std::from_chars(value.data(), value.data() + value.size(), number);
  return number;
}

std::uint64_t Inputs::size(const std::string& name) const {
  return format::parse_size(text(name)).value_or(0);
}

double Inputs::number(const std::string& name) const {
  return parse_number(text(name)).value_or(0.0);
}

const std::vector<std::string>& Inputs::lines(const std::string& name) const {
  return value(name).lines;
}

namespace {

// INPUT_<NAME>, else the first of the input's aliases that is set and not empty: the
// variable's name and its value.
std::optional<std::pair<std::string, std::string>> from_environment(const InputSpec& spec,
                                                                    const log::EnvLookup& env) {
  std::vector<std::string> names = {spec.environment_variable()};
  names.insert(names.end(), spec.environment_aliases.begin(), spec.environment_aliases.end());
  for (const auto& name : names) {
    if (auto value = env(name); value && !value->empty()) {
      return std::make_pair(name, *value);
    }
  }
  return std::nullopt;
}

} // namespace

CommandLine parse_command_line(const Manifest& manifest, int argc, const char* const argv[],
                               const log::EnvLookup& env) {
  const po::variables_map map = parse_argv(manifest, argc, argv);
  CommandLine result;
  result.help = map.count("help") > 0;
  result.version = map.count("version") > 0;
  result.inputs = Inputs(&manifest);
  for (const auto& spec : manifest.inputs) {
    Inputs::Value value;
    const std::string key = kebab_case(spec.name);
    if (map.count(key) > 0) {
      value.source = InputSource::flag;
      value.origin = spec.flag();
      if (spec.type == InputType::multi_line) {
        std::vector<std::string> all;
        for (const auto& item : map[key].as<std::vector<std::string>>()) {
          for (auto& line : split_lines(item)) {
            all.push_back(std::move(line));
          }
        }
        value.text = join_lines(all);
      } else {
        value.text = map[key].as<std::string>();
      }
    } else if (const auto from_env = from_environment(spec, env)) {
      value.source = InputSource::environment;
      value.origin = from_env->first;
      value.text = from_env->second;
    } else if (!spec.default_value.empty()) {
      value.source = InputSource::default_value;
      value.origin = "default of " + spec.flag();
      value.text = spec.default_value;
    }
    if (spec.type == InputType::multi_line) {
      value.lines = split_lines(value.text);
    }
    if (value.source != InputSource::none) {
      check_type(spec, value);
    }
    result.inputs.set(spec.name, std::move(value));
  }
  if (result.help || result.version) {
    return result;
  }
  for (const auto& spec : manifest.inputs) {
    if (spec.required && result.inputs.text(spec.name).empty()) {
      std::string variables = spec.environment_variable();
      for (const auto& alias : spec.environment_aliases) {
        variables += " or " + alias;
      }
      throw error::UsageError(spec.flag() + " is required (or set " + variables +
                              "): " + spec.label);
    }
  }
  return result;
}

} // namespace shared::task
