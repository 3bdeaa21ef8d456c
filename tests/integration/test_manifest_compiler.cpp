// tools/manifest-compiler, the build step that checks a task manifest and compiles it in: a bad
// manifest fails with one line naming it and leaves no output; a good one writes the source.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

using namespace tests::support;

TEST_CASE("manifest-compiler fails a bad manifest, naming it, and writes nothing", "[task]") {
  TempDir folder;
  write_file(folder / "bad.yml", "name: x\ninputs:\n  - name: a\n  - name: a\n");
  const ProcessResult bad =
      run_process({MANIFEST_COMPILER_EXE, "f", folder / "out.cpp", folder / "bad.yml"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(folder / "bad.yml") != std::string::npos);
  CHECK(bad.err.find("input a is declared twice") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(folder / "out.cpp"));
  CHECK_FALSE(std::filesystem::exists(folder / "out.cpp.tmp"));

  write_file(folder / "good.yml", "name: x\nversion: 1.0.0\ninputs:\n  - name: a\n    help: A.\n");
  const ProcessResult good =
      run_process({MANIFEST_COMPILER_EXE, "my_manifest", folder / "out.cpp", folder / "good.yml"});
  CHECK(good.exit_code == 0);
  const std::string source = read_file(folder / "out.cpp");
  CHECK(source.find("const shared::task::Manifest& my_manifest()") != std::string::npos);
  CHECK(source.find("i.name = \"a\";") != std::string::npos);

  CHECK(run_process({MANIFEST_COMPILER_EXE}).exit_code == 2); // usage
}

TEST_CASE("manifest-compiler --markdown prints a task's inputs as Markdown tables", "[task]") {
  TempDir folder;
  write_file(folder / "task.yml", "name: x\n"
                                  "groups:\n  - name: more\n    displayName: More inputs\n"
                                  "inputs:\n"
                                  "  - name: rootPath\n    type: path\n    required: true\n"
                                  "    positional: true\n"
                                  "    help: Globs a|b, *, <dir> and `x|y`, e.g. this. Then more.\n"
                                  "  - name: mode\n    type: pickList\n    options: [fast, safe]\n"
                                  "    default: fast\n    group: more\n    help: How.\n"
                                  "  - name: port\n    short: P\n    environment: [PORT]\n"
                                  "    secret: true\n    group: more\n    help: Where.\n");
  const auto markdown = [&](std::vector<std::string> options) {
    options.insert(options.begin(), {MANIFEST_COMPILER_EXE, "--markdown"});
    options.push_back(folder / "task.yml");
    return run_process(options);
  };

  const ProcessResult all = markdown({});
  REQUIRE(all.exit_code == 0);
  CHECK(all.out.find(
            "**Inputs**\n\n| input | flag | environment | default | description |\n"
            "|---|---|---|---|---|\n"
            "| rootPath | `--root-path` or the first argument | `INPUT_ROOTPATH` | "
            "required | Globs a\\|b, \\*, \\<dir> and `x\\|y`, e.g. this. Then more. |\n") == 0);
  CHECK(all.out.find("\n**More inputs**\n\n") != std::string::npos);
  CHECK(all.out.find("| mode | `--mode` | `INPUT_MODE` | `fast` | How. One of `fast`, `safe`. |") !=
        std::string::npos);
  CHECK(all.out.find("| port | `-P`, `--port` | `INPUT_PORT`, `PORT` |  | Where. Secret: masked "
                     "in logs. |") != std::string::npos);

  const ProcessResult brief = markdown({"--brief", "--group", "main"});
  REQUIRE(brief.exit_code == 0);
  CHECK(brief.out.find("e.g. this. |") != std::string::npos); // "e.g." ends no sentence
  CHECK(brief.out.find("Then more") == std::string::npos);
  CHECK(brief.out.find("mode") == std::string::npos);
  CHECK(brief.out.find("**") == std::string::npos); // one table, no group titles

  const ProcessResult unknown = markdown({"--group", "nope"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no input group nope") != std::string::npos);
  CHECK(run_process({MANIFEST_COMPILER_EXE, "--markdown", "--bogus", folder / "task.yml"})
            .exit_code == 2);
}
