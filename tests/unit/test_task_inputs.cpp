#include "shared/error/error.hpp"
#include "shared/task/help.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/manifest_yaml.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace shared::task;

namespace {

const char* const k_task = R"(
name: sample
friendlyName: Sample task
description: A task for tests.
version: 1.2.3
groups:
  - name: advanced
    displayName: Advanced
inputs:
  - name: rootPath
    type: path
    label: Root
    required: true
    positional: true
  - name: parallel
    type: int
    default: "8"
    min: 1
    max: 64
    group: advanced
  - name: followSymlinks
    type: boolean
    default: "false"
  - name: itemPattern
    type: multiLine
    default: "**"
  - name: mode
    type: pickList
    options: [fast, safe]
    default: safe
  - name: token
    type: string
    secret: true
  - name: port
    type: int
    short: P
    environment: [PORT, OTHER_PORT]
  - name: delay
    type: number
    default: "1"
    min: 0
)";

const char* const k_common = R"(
groups:
  - name: output
    displayName: Output
inputs:
  - name: logFormat
    type: pickList
    options: [auto, plain, azure, github]
    default: auto
    group: output
)";

const Manifest& manifest() {
  static const Manifest m = parse_manifest(k_task, k_common);
  return m;
}

CommandLine parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "sample");
  std::vector<const char*> argv;
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  const shared::log::EnvLookup lookup =
      [env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return parse_command_line(manifest(), static_cast<int>(argv.size()), argv.data(), lookup);
}

std::string usage_error(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {}) {
  try {
    parse(std::move(args), std::move(env));
  } catch (const shared::error::UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("flags and environment names follow the CI conventions", "[task]") {
  const InputSpec& spec = *manifest().find("followSymlinks");
  CHECK(spec.flag() == "--follow-symlinks");
  CHECK(spec.environment_variable() == "INPUT_FOLLOWSYMLINKS");
  InputSpec odd;
  odd.name = "my input-name";
  CHECK(odd.environment_variable() == "INPUT_MY_INPUT_NAME");
  CHECK(kebab_case("maxDownloadSize") == "max-download-size");
  CHECK(manifest().inputs.back().name == "logFormat"); // common inputs come last
}

TEST_CASE("a flag beats the environment, which beats the default", "[task]") {
  SECTION("flag") {
    const auto cl = parse({"--root-path", "/r", "--parallel", "4"}, {{"INPUT_PARALLEL", "2"}});
    CHECK(cl.inputs.integer("parallel") == 4);
    CHECK(cl.inputs.value("parallel").source == InputSource::flag);
    CHECK(cl.inputs.value("parallel").origin == "--parallel");
  }
  SECTION("environment") {
    const auto cl = parse({"/r"}, {{"INPUT_PARALLEL", "2"}});
    CHECK(cl.inputs.integer("parallel") == 2);
    CHECK(cl.inputs.value("parallel").source == InputSource::environment);
  }
  SECTION("an empty environment value counts as unset (Azure sets every input)") {
    const auto cl = parse({"/r"}, {{"INPUT_PARALLEL", ""}});
    CHECK(cl.inputs.integer("parallel") == 8);
    CHECK(cl.inputs.value("parallel").source == InputSource::default_value);
  }
  SECTION("default, and no value at all") {
    const auto cl = parse({"/r"});
    CHECK(cl.inputs.integer("parallel") == 8);
    CHECK(cl.inputs.text("mode") == "safe");
    CHECK(cl.inputs.value("token").source == InputSource::none);
    CHECK_FALSE(cl.inputs.has("token"));
  }
  SECTION("the required input from the environment") {
    const auto cl = parse({}, {{"INPUT_ROOTPATH", "/from/env"}});
    CHECK(cl.inputs.text("rootPath") == "/from/env");
  }
  SECTION("environment aliases, after INPUT_<NAME>, in their order") {
    CHECK(parse({"/r"}, {{"PORT", "1"}, {"OTHER_PORT", "2"}}).inputs.integer("port") == 1);
    CHECK(parse({"/r"}, {{"OTHER_PORT", "2"}}).inputs.value("port").origin == "OTHER_PORT");
    CHECK(parse({"/r"}, {{"INPUT_PORT", "3"}, {"PORT", "1"}}).inputs.integer("port") == 3);
    CHECK(parse({"/r", "-P", "4"}, {{"PORT", "1"}}).inputs.integer("port") == 4);
    CHECK(usage_error({"/r"}, {{"PORT", "x"}}) == "PORT: expected an integer, got \"x\"");
  }
  SECTION("positional and short flags") {
    const auto cl = parse({"-P", "8080", "/pos"});
    CHECK(cl.inputs.text("rootPath") == "/pos");
    CHECK(cl.inputs.integer("port") == 8080);
  }
}

TEST_CASE("typed values are checked, and errors name the input", "[task]") {
  CHECK(usage_error({"/r", "--parallel", "x"}) == "--parallel: expected an integer, got \"x\"");
  CHECK(usage_error({"/r"}, {{"INPUT_PARALLEL", "1.5"}}) ==
        "INPUT_PARALLEL: expected an integer, got \"1.5\"");
  CHECK(usage_error({"/r", "--parallel", "0"}) == "--parallel: must be at least 1, got 0");
  CHECK(usage_error({"/r", "--parallel", "65"}) == "--parallel: must be at most 64, got 65");
  CHECK(usage_error({"/r", "--delay", "1,5"}) == "--delay: expected a number, got \"1,5\"");
  CHECK(usage_error({"/r", "--delay", "nan"}) == "--delay: expected a number, got \"nan\"");
  CHECK(usage_error({"/r", "--delay", "-0.5"}) == "--delay: must be at least 0, got -0.5");
  CHECK(parse({"/r", "--delay", "0.25"}).inputs.number("delay") == 0.25);
  CHECK(parse({"/r"}).inputs.number("delay") == 1.0);
  CHECK(usage_error({"/r", "--follow-symlinks=maybe"}) ==
        "--follow-symlinks: expected true or false, got \"maybe\"");
  CHECK(usage_error({"/r", "--mode", "reckless"}) ==
        "--mode: expected one of fast, safe, got \"reckless\"");
  CHECK(usage_error({}) == "--root-path is required (or set INPUT_ROOTPATH): Root");
  CHECK(usage_error({"/r", "--no-such-flag"}).find("no-such-flag") != std::string::npos);
  CHECK(usage_error({"/r", "/extra"}) == "too many arguments (see --help)");
  CHECK(usage_error({"/r", "--parallel", "1", "--parallel", "2"}).find("more than once") !=
        std::string::npos);
}

TEST_CASE("booleans take the spellings CI systems use", "[task]") {
  CHECK(parse({"/r", "--follow-symlinks"}).inputs.boolean("followSymlinks"));
  CHECK_FALSE(parse({"/r", "--follow-symlinks=false"}).inputs.boolean("followSymlinks"));
  CHECK(parse({"/r"}, {{"INPUT_FOLLOWSYMLINKS", "True"}}).inputs.boolean("followSymlinks"));
  for (const char* yes : {"true", "TRUE", "yes", "on", "1"}) {
    CHECK(parse_boolean(yes) == true);
  }
  for (const char* no : {"false", "No", "off", "0"}) {
    CHECK(parse_boolean(no) == false);
  }
  CHECK_FALSE(parse_boolean(""));
}

TEST_CASE("multiLine inputs: lines from the environment, or repeated flags", "[task]") {
  CHECK(
      parse({"/r"}, {{"INPUT_ITEMPATTERN", "a/**\r\n\n  \n!b/**\n"}}).inputs.lines("itemPattern") ==
      std::vector<std::string>{"a/**", "!b/**"});
  CHECK(
      parse({"/r", "--item-pattern", "x", "--item-pattern", "y\nz"}).inputs.lines("itemPattern") ==
      std::vector<std::string>{"x", "y", "z"});
  CHECK(parse({"/r"}).inputs.lines("itemPattern") == std::vector<std::string>{"**"});
}

TEST_CASE("--help and --version need no other input", "[task]") {
  CHECK(parse({"--help"}).help);
  CHECK(parse({"-h"}).help);
  CHECK(parse({"--version"}).version);
  CHECK(format_version(manifest()) == "sample 1.2.3");
}

TEST_CASE("help lists every input with its variable, default and group, and the exit codes",
          "[task]") {
  const std::string help = format_help(manifest());
  CHECK(help.find("Usage: sample [options] [root-path]") != std::string::npos);
  CHECK(help.find("--parallel <int>") != std::string::npos);
  CHECK(help.find("INPUT_PARALLEL; default: 8") != std::string::npos);
  CHECK(help.find("[INPUT_PORT or PORT or OTHER_PORT]") != std::string::npos);
  CHECK(help.find("--mode <fast|safe>") != std::string::npos);
  CHECK(help.find("-P, --port <int>") != std::string::npos);
  CHECK(help.find("secret (masked in logs)") != std::string::npos);
  CHECK(help.find("\nAdvanced:\n") < help.find("--parallel"));
  CHECK(help.find("130  interrupted") != std::string::npos);
}

TEST_CASE("broken manifests are refused", "[task]") {
  CHECK_THROWS(parse_manifest("name: x\ninputs:\n  - type: string\n", ""));
  CHECK_THROWS(parse_manifest("name: x\ninputs:\n  - name: a\n    type: float\n", ""));
  CHECK_THROWS(parse_manifest("name: x\ninputs:\n  - name: a\n  - name: a\n", ""));
  CHECK_THROWS(parse_manifest("name: x\ninputs:\n  - name: a\n    type: pickList\n", ""));
  CHECK_THROWS(parse_manifest("name: x\ninputs:\n  - name: a\n    group: nowhere\n", ""));
}
