// generate-metadata, the executable, run as a CI step runs it: checked against coreutils
// sha256sum, with hostile names, every way inputs arrive, each log dialect, bad input and
// interruption.
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace tests::support;

namespace {

const std::string k_exe = GENERATE_METADATA_EXE;

ProcessResult generate(std::vector<std::string> args, ProcessOptions options = {}) {
  args.insert(args.begin(), k_exe);
  return run_process(args, options);
}

// What coreutils says the file's SHA-256 is (uppercase hex).
std::string sha256sum(const std::string& path) {
  const ProcessResult r = run_process({"/usr/bin/sha256sum", "--", path});
  REQUIRE(r.exit_code == 0);
  std::string hex = r.out.substr(r.out[0] == '\\' ? 1 : 0, 64); // names with \n are escaped
  for (char& c : hex) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return hex;
}

// A tree with the names that break naive tools.
std::vector<std::string> make_hostile_tree(const std::string& root) {
  const std::vector<std::string> names = {
      "plain.txt",        "comma,name.txt",
      "quote\"name.txt",  "new\nline.txt",
      "spaces in name",   "-rf",
      "--help",           "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.bin",
      "deep/a/b/c/d.txt", "empty-file",
      "cr\rname",         "dir with space/x,y\"z"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string content = names[i] == "empty-file" ? "" : "content of " + names[i];
    content.append(i * 100000, static_cast<char>('a' + i)); // some files beyond one read
    write_file(root + "/" + names[i], content);
  }
  return names;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("the CSV matches sha256sum for every file, hostile names included",
          "[generate-metadata]") {
  TempDir folder;
  const std::string root = folder / "artifact";
  const auto names = make_hostile_tree(root);
  write_file(root + "/artifact-metadata.csv", "stale,from an earlier run\n");
  write_file(root + "/artifact-metadata.csv.part", "leftover of a crash");

  const ProcessResult r = generate({root, "--parallel", "3"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "Wrote " + root + "/artifact-metadata.csv: 12 files"));
  CHECK_FALSE(exists(root + "/artifact-metadata.csv.part"));

  const std::string text = read_file(root + "/artifact-metadata.csv");
  const auto metadata = shared::metadata::parse_csv(text);
  REQUIRE(metadata.entries.size() == names.size()); // neither the old CSV nor the part file
  for (const auto& name : names) {
    INFO(name);
    const auto* entry = metadata.find(name);
    REQUIRE(entry != nullptr);
    CHECK(shared::hash::to_hex(entry->sha256) == sha256sum(root + "/" + name));
  }
  CHECK(contains(text, "\"comma,name.txt\","));
  CHECK(contains(text, "\"quote\"\"name.txt\","));
  CHECK(contains(text, "\n-rf,"));
  CHECK(text == shared::metadata::to_csv(metadata.entries)); // sorted, canonical form
}

TEST_CASE("the same tree gives the same bytes whatever the parallelism", "[generate-metadata]") {
  TempDir folder;
  make_hostile_tree(folder / "t");
  REQUIRE(generate({folder / "t", "--output", folder / "one.csv", "--parallel", "1"}).exit_code ==
          0);
  REQUIRE(generate({folder / "t", "--output", folder / "many.csv", "--parallel", "8"}).exit_code ==
          0);
  CHECK(read_file(folder / "one.csv") == read_file(folder / "many.csv"));
}

TEST_CASE("include and exclude globs choose the files", "[generate-metadata]") {
  TempDir folder;
  write_file(folder / "t/bin/app.exe", "1");
  write_file(folder / "t/bin/app.pdb", "2");
  write_file(folder / "t/docs/readme.md", "3");
  write_file(folder / "t/obj/tmp.exe", "4");
  const ProcessResult r = generate({folder / "t", "--output", folder / "m.csv", "--include",
                                    "**/*.{exe,md}", "--exclude", "obj/**"});
  REQUIRE(r.exit_code == 0);
  const auto metadata = shared::metadata::read_csv_file(folder / "m.csv");
  REQUIRE(metadata.entries.size() == 2);
  CHECK(metadata.entries[0].path == "bin/app.exe");
  CHECK(metadata.entries[1].path == "docs/readme.md");
}

TEST_CASE("symlinks: skipped with a warning, followed only inside the root",
          "[generate-metadata]") {
  TempDir folder;
  write_file(folder / "outside/secret", "do not list me");
  write_file(folder / "t/real/file", "data");
  REQUIRE(::symlink("real/file", (folder / "t/link").c_str()) == 0);
  REQUIRE(::symlink("real", (folder / "t/dirlink").c_str()) == 0);
  REQUIRE(::symlink((folder / "outside/secret").c_str(), (folder / "t/escape").c_str()) == 0);
  REQUIRE(::symlink("../outside", (folder / "t/escape-dir").c_str()) == 0);

  SECTION("default: not followed") {
    const ProcessResult r = generate({folder / "t", "--output", folder / "m.csv"});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "warning: skipped symlink link -> real/file: followSymlinks is off"));
    CHECK(shared::metadata::read_csv_file(folder / "m.csv").entries.size() == 1);
  }
  SECTION("followed inside, never outside") {
    const ProcessResult r =
        generate({folder / "t", "--output", folder / "m.csv", "--follow-symlinks"});
    REQUIRE(r.exit_code == 0);
    const auto metadata = shared::metadata::read_csv_file(folder / "m.csv");
    std::set<std::string> paths;
    for (const auto& e : metadata.entries) {
      paths.insert(e.path);
    }
    CHECK(paths == std::set<std::string>{"dirlink/file", "link", "real/file"});
    CHECK(contains(r.err, "skipped symlink escape -> " + (folder / "outside/secret") +
                              ": it leads outside rootPath"));
    CHECK(contains(r.err, "skipped symlink escape-dir -> ../outside: it leads outside rootPath"));
  }
}

TEST_CASE("inputs come from flags, else INPUT_ variables, else defaults", "[generate-metadata]") {
  TempDir folder;
  write_file(folder / "t/a", "a");
  write_file(folder / "u/b", "b");
  ProcessOptions env;
  env.set_env = {{"INPUT_ROOTPATH", folder / "t"}, {"INPUT_OUTPUT", folder / "env.csv"}};
  SECTION("environment only") {
    REQUIRE(generate({}, env).exit_code == 0);
    CHECK(shared::metadata::read_csv_file(folder / "env.csv").find("a") != nullptr);
  }
  SECTION("a flag beats the environment") {
    REQUIRE(generate({"--root-path", folder / "u"}, env).exit_code == 0);
    CHECK(shared::metadata::read_csv_file(folder / "env.csv").find("b") != nullptr);
  }
  SECTION("a bad value names its variable") {
    env.set_env["INPUT_PARALLEL"] = "many";
    const ProcessResult r = generate({}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.err == "error: INPUT_PARALLEL: expected an integer, got \"many\"\n");
    CHECK_FALSE(exists(folder / "env.csv"));
  }
}

TEST_CASE("bad input: a clear error, a meaningful status, no CSV", "[generate-metadata]") {
  TempDir folder;
  write_file(folder / "t/a", "a");
  SECTION("missing root") {
    const ProcessResult r = generate({folder / "nope"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "error: --root-path: \"" + (folder / "nope") + "\" does not exist\n");
  }
  SECTION("root is a file") {
    const ProcessResult r = generate({folder / "t/a"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "is not a folder"));
  }
  SECTION("no root at all") {
    const ProcessResult r = generate({});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--root-path is required"));
  }
  SECTION("an unknown flag") {
    CHECK(generate({folder / "t", "--colour"}).exit_code == 2);
  }
  SECTION("output folder missing") {
    const ProcessResult r = generate({folder / "t", "--output", folder / "missing/m.csv"});
    CHECK(r.exit_code == 5);
    CHECK(contains(r.err, "cannot create " + (folder / "missing/m.csv.part")));
  }
  SECTION("an unreadable file keeps the old CSV and leaves no part file") {
    if (::geteuid() == 0) { // root reads everything: run the task as nobody instead
      ::chmod(folder.path().c_str(), 0755);
      ::chmod((folder / "t").c_str(), 0777);
    }
    write_file(folder / "t/locked", "secret");
    ::chmod((folder / "t/locked").c_str(), 0);
    write_file(folder / "t/artifact-metadata.csv", "old\n");
    ::chmod((folder / "t/artifact-metadata.csv").c_str(), 0666);
    ProcessOptions as_nobody;
    as_nobody.run_as_uid = 65534;
    const ProcessResult r = generate({folder / "t"}, as_nobody);
    INFO(r.err);
    CHECK(r.exit_code == 5);
    CHECK(contains(r.err, "error: cannot open " + (folder / "t/locked") + ": Permission denied"));
    CHECK(read_file(folder / "t/artifact-metadata.csv") == "old\n");
    CHECK_FALSE(exists(folder / "t/artifact-metadata.csv.part"));
  }
}

TEST_CASE("SIGTERM stops the run: status 130, no CSV, no part file", "[generate-metadata]") {
  TempDir folder;
  // A sparse 64 GB file: no disk used, but far more hashing than the signal's delay.
  write_file(folder / "t/huge", "");
  REQUIRE(::truncate((folder / "t/huge").c_str(), 64LL << 30) == 0);
  ProcessOptions options;
  options.signal = SIGTERM;
  options.signal_after_ms = 300;
  const ProcessResult r = generate({folder / "t", "--quiet"}, options);
  CHECK(r.exit_code == 130);
  CHECK(contains(r.err, "error: interrupted"));
  CHECK_FALSE(exists(folder / "t/artifact-metadata.csv"));
  CHECK_FALSE(exists(folder / "t/artifact-metadata.csv.part"));
}

TEST_CASE("each log dialect speaks its CI system's language", "[generate-metadata]") {
  TempDir folder;
  write_file(folder / "t/a", "a");
  REQUIRE(::symlink("a", (folder / "t/link").c_str()) == 0);
  SECTION("Azure Pipelines, from TF_BUILD") {
    ProcessOptions azure;
    azure.set_env = {{"TF_BUILD", "True"}};
    const ProcessResult ok = generate({folder / "t"}, azure);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.out, "##[group]Inputs\n"));
    CHECK(contains(ok.out, "##vso[task.logissue type=warning]skipped symlink link -> a"));
    CHECK(contains(ok.out, "##vso[task.complete result=SucceededWithIssues;]"));
    const ProcessResult bad = generate({folder / "missing"}, azure);
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.out, "##vso[task.logissue type=error]--root-path: \""));
    CHECK(contains(bad.out, "##vso[task.complete result=Failed;]"));
  }
  SECTION("GitHub Actions, from GITHUB_ACTIONS") {
    ProcessOptions github;
    github.set_env = {{"GITHUB_ACTIONS", "true"}};
    const ProcessResult ok = generate({folder / "t"}, github);
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.out, "::group::Inputs\n"));
    CHECK(contains(ok.out, "::warning::skipped symlink link -> a"));
    const ProcessResult bad = generate({folder / "missing"}, github);
    CHECK(contains(bad.out, "::error::--root-path: \""));
  }
  SECTION("--log-format overrides the environment") {
    ProcessOptions azure;
    azure.set_env = {{"TF_BUILD", "True"}};
    const ProcessResult r = generate({folder / "t", "--log-format", "plain"}, azure);
    CHECK_FALSE(contains(r.out, "##vso"));
    CHECK(contains(r.err, "warning: skipped symlink"));
  }
}

TEST_CASE("--help and --version", "[generate-metadata]") {
  const ProcessResult help = generate({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(contains(help.out, "--root-path <path>"));
  CHECK(contains(help.out, "INPUT_FOLLOWSYMLINKS"));
  CHECK(contains(help.out, "Exit status:"));
  const ProcessResult version = generate({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == "generate-metadata 0.1.0\n");
}
