#include "shared/task/manifest_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

namespace shared::task {
namespace {

InputType parse_type(const std::string& type, const std::string& input) {
  if (type == "string") {
    return InputType::string;
  }
  if (type == "boolean") {
    return InputType::boolean;
  }
  if (type == "int") {
    return InputType::integer;
  }
  if (type == "number") {
    return InputType::number;
  }
  if (type == "size") {
    return InputType::size;
  }
  if (type == "path") {
    return InputType::path;
  }
  if (type == "multiLine") {
    return InputType::multi_line;
  }
  if (type == "pickList") {
    return InputType::pick_list;
  }
  throw std::runtime_error("input " + input + ": unknown type \"" + type + "\"");
}

std::string scalar(const YAML::Node& node, const char* key, const std::string& fallback = {}) {
  const YAML::Node value = node[key];
  return value ? value.as<std::string>() : fallback;
}

InputSpec parse_input(const YAML::Node& node) {
  InputSpec input;
  input.name = scalar(node, "name");
  if (input.name.empty()) {
    throw std::runtime_error("an input has no name");
  }
  input.type = parse_type(scalar(node, "type", "string"), input.name);
  input.label = scalar(node, "label", input.name);
  input.default_value = scalar(node, "default");
  input.required = node["required"] && node["required"].as<bool>();
  input.group = scalar(node, "group");
  input.help = scalar(node, "help");
  input.secret = node["secret"] && node["secret"].as<bool>();
  input.positional = node["positional"] && node["positional"].as<bool>();
  input.short_flag = scalar(node, "short");
  if (node["min"]) {
    input.min = node["min"].as<double>();
  }
  if (node["max"]) {
    input.max = node["max"].as<double>();
  }
  if (const YAML::Node aliases = node["environment"]) {
    for (const auto& alias : aliases) {
      input.environment_aliases.push_back(alias.as<std::string>());
    }
  }
  if (const YAML::Node options = node["options"]) {
    for (const auto& option : options) {
      input.options.push_back(option.as<std::string>());
    }
  }
  if (input.type == InputType::pick_list && input.options.empty()) {
    throw std::runtime_error("input " + input.name + ": a pickList needs options");
  }
  if (input.short_flag.size() > 1) {
    throw std::runtime_error("input " + input.name + ": short flag must be one letter");
  }
  return input;
}

void parse_inputs(const YAML::Node& root, Manifest& manifest) {
  for (const auto& node : root["inputs"]) {
    manifest.inputs.push_back(parse_input(node));
  }
  for (const auto& node : root["groups"]) {
    manifest.groups.push_back({scalar(node, "name"), scalar(node, "displayName")});
  }
}

void check(const Manifest& manifest) {
  std::set<std::string> names;
  std::size_t positional = 0;
  for (const auto& input : manifest.inputs) {
    if (!names.insert(input.name).second) {
      throw std::runtime_error("input " + input.name + " is declared twice");
    }
    positional += input.positional ? 1 : 0;
    if (!input.group.empty()) {
      bool known = false;
      for (const auto& group : manifest.groups) {
        known = known || group.name == input.group;
      }
      if (!known) {
        throw std::runtime_error("input " + input.name + ": unknown group " + input.group);
      }
    }
  }
  if (positional > 1) {
    throw std::runtime_error("more than one positional input");
  }
}

} // namespace

Manifest parse_manifest(std::string_view task_yaml, std::string_view common_yaml) {
  Manifest manifest;
  try {
    const YAML::Node root = YAML::Load(std::string(task_yaml));
    manifest.name = scalar(root, "name");
    manifest.friendly_name = scalar(root, "friendlyName", manifest.name);
    manifest.description = scalar(root, "description");
    manifest.version = scalar(root, "version");
    parse_inputs(root, manifest);
    for (const YAML::Node& fragment : YAML::LoadAll(std::string(common_yaml))) {
      parse_inputs(fragment, manifest);
    }
    check(manifest);
  } catch (const std::exception& e) {
    throw std::runtime_error("task manifest " + manifest.name + ": " + e.what());
  }
  return manifest;
}

} // namespace shared::task
