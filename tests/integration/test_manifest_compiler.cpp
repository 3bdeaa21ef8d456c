// tools/manifest-compiler, the build step that checks a task manifest and compiles it in: a bad
// manifest fails with one line naming it and leaves no output; a good one writes the source.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace tests::support;

TEST_CASE("manifest-compiler fails a bad manifest, naming it, and writes nothing", "[task]") {
  TempDir dir;
  write_file(dir / "bad.yml", "name: x\ninputs:\n  - name: a\n  - name: a\n");
  const ProcessResult bad =
      run_process({MANIFEST_COMPILER_EXE, "f", dir / "out.cpp", dir / "bad.yml"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(dir / "bad.yml") != std::string::npos);
  CHECK(bad.err.find("input a is declared twice") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "out.cpp"));
  CHECK_FALSE(std::filesystem::exists(dir / "out.cpp.tmp"));

  write_file(dir / "good.yml", "name: x\nversion: 1.0.0\ninputs:\n  - name: a\n    help: A.\n");
  const ProcessResult good =
      run_process({MANIFEST_COMPILER_EXE, "my_manifest", dir / "out.cpp", dir / "good.yml"});
  CHECK(good.exit_code == 0);
  const std::string source = read_file(dir / "out.cpp");
  CHECK(source.find("const shared::task::Manifest& my_manifest()") != std::string::npos);
  CHECK(source.find("i.name = \"a\";") != std::string::npos);

  CHECK(run_process({MANIFEST_COMPILER_EXE}).exit_code == 2); // usage
}
