// download-artifact --incremental (seed 002): files whose hash did not change come from the
// local cache; the server (our FaultServer, counting requests) sees only the rest.
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

using namespace tests::support;

namespace {

const std::string k_download = DOWNLOAD_ARTIFACT_EXE;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Serves `files` and an artifact-metadata.csv listing them.
void publish(FaultServer& server, const std::map<std::string, std::string>& files) {
  std::vector<shared::metadata::Entry> entries;
  for (const auto& [path, content] : files) {
    entries.push_back({path, shared::hash::sha256(content)});
    server.serve("/" + path, content);
  }
  server.serve("/artifact-metadata.csv", shared::metadata::to_csv(entries));
}

ProcessResult incremental(const FaultServer& server, const TempDir& dir, const std::string& out,
                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {k_download,    server.url("/"), "--destination",
                                   dir / out,     "--incremental", "--cache-directory",
                                   dir / "cache", "--retry-delay", "0.01"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_process(args);
}

std::map<std::string, std::string> make_files(int count) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < count; ++i) {
    files["dir" + std::to_string(i % 3) + "/file" + std::to_string(i)] =
        "content " + std::to_string(i) + std::string(1000 + i, 'x');
  }
  return files;
}

// An nginx-style JSON index listing one file, a.txt, and no artifact-metadata.csv.
void serve_json_index(FaultServer& server) {
  FaultReply index;
  index.body = R"([{"name":"a.txt","type":"file","size":1}])";
  index.headers = {{"Content-Type", "application/json"}};
  server.on("/", {index});
  server.serve("/a.txt", "A");
}

std::string cache_files_dir(const TempDir& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir / "cache/ArtifactEngineCache")) {
    return entry.path().string() + "/files";
  }
  return {};
}

} // namespace

TEST_CASE("after 10% of the files changed, exactly those are requested", "[incremental]") {
  TempDir dir;
  FaultServer server;
  auto files = make_files(20);
  publish(server, files);
  const ProcessResult first = incremental(server, dir, "out1");
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.out, "no cache for this key yet"));
  CHECK(contains(first.out, "Cache updated"));

  files["dir1/file1"] = "changed one";
  files["dir2/file2"] = "changed two";
  publish(server, files);
  std::map<std::string, std::size_t> before;
  for (const auto& [path, content] : files) {
    before[path] = server.request_count("/" + path);
  }
  const ProcessResult second = incremental(server, dir, "out2");
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(contains(second.out, "(trusted)"));
  CHECK(contains(second.out, "18 from cache"));
  for (const auto& [path, content] : files) {
    INFO(path);
    const bool changed = path == "dir1/file1" || path == "dir2/file2";
    CHECK(server.request_count("/" + path) - before[path] == (changed ? 1u : 0u));
    CHECK(read_file(dir / ("out2/" + path)) == content);
  }
}

TEST_CASE("a renamed file is served from the cache", "[incremental]") {
  TempDir dir;
  FaultServer server;
  publish(server, {{"old/name.bin", "same bytes"}, {"other", "o"}});
  REQUIRE(incremental(server, dir, "out1").exit_code == 0);
  FaultServer moved;
  publish(moved, {{"new/place.bin", "same bytes"}, {"other", "o"}});
  const ProcessResult r = incremental(moved, dir, "out2", {"--cache-key", server.url("/")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(moved.request_count("/new/place.bin") == 0);
  CHECK(read_file(dir / "out2/new/place.bin") == "same bytes");
}

TEST_CASE("with an item pattern, the cache holds what was downloaded", "[incremental]") {
  TempDir dir;
  FaultServer server;
  publish(server, {{"keep/a.txt", "A"}, {"skip/b.txt", "B"}});
  const ProcessResult first = incremental(server, dir, "out1", {"--item-pattern", "keep/**"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.out, "Cache updated"));
  const ProcessResult second = incremental(server, dir, "out2");
  REQUIRE(second.exit_code == 0);
  CHECK(server.request_count("/keep/a.txt") == 1);
  CHECK(server.request_count("/skip/b.txt") == 1);
  CHECK(read_file(dir / "out2/skip/b.txt") == "B");
}

TEST_CASE("a corrupted cached file is detected and downloaded again", "[incremental]") {
  TempDir dir;
  FaultServer server;
  publish(server, {{"a.txt", "the real content"}});
  REQUIRE(incremental(server, dir, "out1").exit_code == 0);
  write_file(cache_files_dir(dir) + "/a.txt", "the real c0ntent"); // same size, one byte off
  SECTION("validated: re-downloaded") {
    const ProcessResult r = incremental(server, dir, "out2");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "cached copy of a.txt not used (SHA-256 mismatch"));
    CHECK(read_file(dir / "out2/a.txt") == "the real content");
    CHECK(server.request_count("/a.txt") == 2);
  }
  SECTION("skipValidation: the cache is trusted as it is (documented)") {
    const ProcessResult r = incremental(server, dir, "out2", {"--skip-validation"});
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(dir / "out2/a.txt") == "the real c0ntent");
    CHECK(server.request_count("/a.txt") == 1);
  }
}

TEST_CASE("a cache without a matching .verify marker is not trusted", "[incremental]") {
  TempDir dir;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  REQUIRE(incremental(server, dir, "out1").exit_code == 0);
  std::filesystem::remove(std::filesystem::path(cache_files_dir(dir)).parent_path() / ".verify");
  const ProcessResult r = incremental(server, dir, "out2");
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "not used: no .verify marker"));
  CHECK(server.request_count("/a.txt") == 2);
  CHECK(contains(r.out, "Cache updated")); // and it is good again
  CHECK(exists(std::filesystem::path(cache_files_dir(dir)).parent_path().string() + "/.verify"));
}

TEST_CASE("missing or malformed source metadata: warning, plain download, cache untouched",
          "[incremental]") {
  TempDir dir;
  FaultServer server;
  SECTION("missing: listed from the index instead") {
    serve_json_index(server);
    const ProcessResult r = incremental(server, dir, "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "incremental: no usable artifact-metadata.csv at the source"));
    CHECK(read_file(dir / "out/a.txt") == "A");
  }
  SECTION("malformed: the line is named") {
    serve_json_index(server);
    server.serve("/artifact-metadata.csv", "a.txt,not-a-hash\n");
    const ProcessResult r = incremental(server, dir, "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "artifact-metadata.csv line 1: hash"));
    CHECK(contains(r.err, "plain download, cache not touched"));
  }
  CHECK_FALSE(exists(dir / "cache"));
}
