// The real manifests in task-manifests/ parse, and their defaults pass their own checks.
#include "shared/task/inputs.hpp"
#include "shared/task/manifest_yaml.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace shared::task;

TEST_CASE("every task manifest parses and its defaults are valid", "[task]") {
  const auto manifest_text = [](const std::string& name) {
    return tests::support::read_file(std::string(MANIFEST_DIR) + "/" + name + ".yml");
  };
  // Each task with the fragments its CMakeLists.txt gives embed_manifest().
  struct Task {
    const char* file;
    std::string common;
    const char* name;
  };
  const Task tasks[] = {
      {"generate-metadata", manifest_text("common"), "generate-metadata"},
      {"download-artifact", manifest_text("common") + "\n---\n" + manifest_text("http"),
       "download-artifact"},
      {"download-dir-zip", manifest_text("common") + "\n---\n" + manifest_text("http"),
       "download-dir-zip"},
      {"download-dir-zip-serve", manifest_text("common"), "download-dir-zip serve"},
  };
  for (const auto& [task, common, name] : tasks) {
    INFO(task);
    const std::string text =
        tests::support::read_file(std::string(MANIFEST_DIR) + "/" + task + ".yml");
    const Manifest manifest = parse_manifest(text, common);
    CHECK(manifest.name == name);
    CHECK_FALSE(manifest.version.empty());
    CHECK_FALSE(manifest.description.empty());
    for (const auto& input : manifest.inputs) {
      INFO(input.name);
      CHECK_FALSE(input.help.empty());
    }
    // Satisfy required inputs through the environment, then resolve every default.
    const shared::log::EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
      for (const auto& input : manifest.inputs) {
        if (input.required && input.environment_variable() == name) {
          return std::string("x");
        }
      }
      return std::nullopt;
    };
    const char* argv[] = {task};
    CHECK_NOTHROW(parse_command_line(manifest, 1, argv, env));
  }
}

const Manifest& compiled_download_artifact_manifest();
const Manifest& compiled_escapes_manifest();

namespace {

// Field by field, what the manifest compiler wrote against what the YAML says.
void check_same(const Manifest& compiled, const Manifest& parsed) {
  CHECK(compiled.name == parsed.name);
  CHECK(compiled.friendly_name == parsed.friendly_name);
  CHECK(compiled.description == parsed.description);
  CHECK(compiled.version == parsed.version);
  REQUIRE(compiled.groups.size() == parsed.groups.size());
  for (std::size_t k = 0; k < parsed.groups.size(); ++k) {
    CHECK(compiled.groups[k].name == parsed.groups[k].name);
    CHECK(compiled.groups[k].display_name == parsed.groups[k].display_name);
  }
  REQUIRE(compiled.inputs.size() == parsed.inputs.size());
  for (std::size_t k = 0; k < parsed.inputs.size(); ++k) {
    const InputSpec& a = compiled.inputs[k];
    const InputSpec& b = parsed.inputs[k];
    INFO(b.name);
    CHECK(a.name == b.name);
    CHECK(a.type == b.type);
    CHECK(a.label == b.label);
    CHECK(a.default_value == b.default_value);
    CHECK(a.required == b.required);
    CHECK(a.group == b.group);
    CHECK(a.help == b.help);
    CHECK(a.options == b.options);
    CHECK(a.secret == b.secret);
    CHECK(a.positional == b.positional);
    CHECK(a.min == b.min);
    CHECK(a.max == b.max);
    CHECK(a.short_flag == b.short_flag);
    CHECK(a.environment_aliases == b.environment_aliases);
  }
}

std::string read_manifest(const std::string& path) {
  return tests::support::read_file(path);
}

} // namespace

TEST_CASE("the manifest compiled into an executable is the manifest its YAML says", "[task]") {
  const std::string folder = MANIFEST_DIR;
  check_same(compiled_download_artifact_manifest(),
             parse_manifest(read_manifest(folder + "/download-artifact.yml"),
                            read_manifest(folder + "/common.yml") + "\n---\n" +
                                read_manifest(folder + "/http.yml")));
  // Quotes, backslashes, trigraph-like ??, tabs, UTF-8, and every field set.
  const Manifest parsed =
      parse_manifest(read_manifest(std::string(UNIT_DATA_DIR) + "/manifest-escapes.yml"),
                     read_manifest(folder + "/common.yml"));
  check_same(compiled_escapes_manifest(), parsed);
  const InputSpec* count = parsed.find("count");
  REQUIRE(count != nullptr);
  CHECK(count->max == 9000000000);
  CHECK(count->secret);
  CHECK(parsed.description.find("?\?=") != std::string::npos);
}
