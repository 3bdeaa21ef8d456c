// The real manifests in task-manifests/ parse, and their defaults pass their own checks.
#include "shared/task/inputs.hpp"
#include "shared/task/manifest.hpp"
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
