// download-artifact --incremental: files whose hash did not change come from the
// local cache; the server (our FaultServer, counting requests) sees only the rest.
#include "shared/fs/descriptor.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <linux/fs.h>
#include <map>
#include <set>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

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

ProcessResult incremental(const FaultServer& server, const TempDir& folder, const std::string& out,
                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {k_download,       server.url("/"), "--destination",
                                   folder / out,     "--incremental", "--cache-directory",
                                   folder / "cache", "--retry-delay", "0.01"};
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

// The one key folder under the test's cache folder ("" when there is none).
std::string key_folder(const TempDir& folder) {
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(folder / "cache/ArtifactEngineCache", ec)) {
    if (entry.is_directory() && entry.path().filename().string().size() == 64) {
      return entry.path().string();
    }
  }
  return {};
}

// The cache's object (file) holding `content`.
std::string cached_object(const TempDir& folder, const std::string& content) {
  return key_folder(folder) + "/objects/" +
         shared::hash::to_hex(shared::hash::sha256(content), false);
}

} // namespace

TEST_CASE("after 10% of the files changed, exactly those are requested", "[incremental]") {
  TempDir folder;
  FaultServer server;
  auto files = make_files(20);
  publish(server, files);
  const ProcessResult first = incremental(server, folder, "out1");
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
  const ProcessResult second = incremental(server, folder, "out2");
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(contains(second.out, "(trusted, last updated"));
  CHECK(contains(second.out, "18 from cache"));
  for (const auto& [path, content] : files) {
    INFO(path);
    const bool changed = path == "dir1/file1" || path == "dir2/file2";
    CHECK(server.request_count("/" + path) - before[path] == (changed ? 1u : 0u));
    CHECK(read_file(folder / ("out2/" + path)) == content);
  }
}

TEST_CASE("a renamed file is served from the cache", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"old/name.bin", "same bytes"}, {"other", "o"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  FaultServer moved;
  publish(moved, {{"new/place.bin", "same bytes"}, {"other", "o"}});
  const ProcessResult r = incremental(moved, folder, "out2", {"--cache-key", server.url("/")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(moved.request_count("/new/place.bin") == 0);
  CHECK(read_file(folder / "out2/new/place.bin") == "same bytes");
}

TEST_CASE("with an item pattern, the cache holds what was downloaded", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"keep/a.txt", "A"}, {"skip/b.txt", "B"}});
  const ProcessResult first = incremental(server, folder, "out1", {"--item-pattern", "keep/**"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.out, "Cache updated"));
  const ProcessResult second = incremental(server, folder, "out2");
  REQUIRE(second.exit_code == 0);
  CHECK(server.request_count("/keep/a.txt") == 1);
  CHECK(server.request_count("/skip/b.txt") == 1);
  CHECK(read_file(folder / "out2/skip/b.txt") == "B");
}

TEST_CASE("a corrupted cached file is detected and downloaded again", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "the real content"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  const std::string object = cached_object(folder, "the real content");
  ::chmod(object.c_str(), 0644);
  write_file(object, "the real c0ntent"); // same size, one byte off
  SECTION("validated: re-downloaded") {
    const ProcessResult r = incremental(server, folder, "out2");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "cached copy of a.txt not used (SHA-256 mismatch"));
    CHECK(read_file(folder / "out2/a.txt") == "the real content");
    CHECK(server.request_count("/a.txt") == 2);
  }
  SECTION("skipValidation: the cache is trusted as it is (documented)") {
    const ProcessResult r = incremental(server, folder, "out2", {"--skip-validation"});
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(folder / "out2/a.txt") == "the real c0ntent");
    CHECK(server.request_count("/a.txt") == 1);
    // ... but the unchecked files do not become the cache: the next checked run finds it.
    CHECK(contains(r.out, "Cache not updated: with skipValidation nothing was checked"));
    const ProcessResult next = incremental(server, folder, "out3");
    INFO(next.out << next.err);
    REQUIRE(next.exit_code == 0);
    CHECK(read_file(folder / "out3/a.txt") == "the real content");
    CHECK(server.request_count("/a.txt") == 2);
  }
}

TEST_CASE("a cache without a matching .verify marker is not trusted", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  std::filesystem::remove(key_folder(folder) + "/current/.verify");
  const ProcessResult r = incremental(server, folder, "out2");
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "not used: no .verify marker"));
  CHECK(server.request_count("/a.txt") == 2);
  CHECK(contains(r.out, "Cache updated")); // and it is good again
  CHECK(exists(key_folder(folder) + "/current/.verify"));
}

TEST_CASE("a cache update that fails warns naming the cache; the download still succeeds",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  const std::string key = key_folder(folder);
  // objects/ replaced by a file: the update cannot add the new content.
  std::filesystem::remove_all(key + "/objects");
  write_file(key + "/objects", "not a folder");
  publish(server, {{"a.txt", "A2"}});
  const ProcessResult r = incremental(server, folder, "out2");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(read_file(folder / "out2/a.txt") == "A2");
  CHECK(contains(r.err, "cache " + key + " not updated (the download itself is complete): "));
  CHECK_FALSE(contains(r.out, "Cache updated"));
}

TEST_CASE("missing or malformed source metadata: warning, plain download, cache untouched",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  SECTION("missing: listed from the index instead") {
    serve_json_index(server);
    const ProcessResult r = incremental(server, folder, "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "incremental: no usable artifact-metadata.csv at the source"));
    CHECK(read_file(folder / "out/a.txt") == "A");
  }
  SECTION("malformed: the line is named") {
    serve_json_index(server);
    server.serve("/artifact-metadata.csv", "a.txt,not-a-hash\n");
    const ProcessResult r = incremental(server, folder, "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "artifact-metadata.csv line 1: hash"));
    CHECK(contains(r.err, "plain download, cache not touched"));
  }
  CHECK_FALSE(exists(folder / "cache"));
}

namespace {

struct stat status_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info;
}

// Whether this filesystem makes copy-on-write clones (then no hard link is ever made).
bool reflinks_work(const TempDir& folder) {
  write_file(folder / "probe-from", "x");
  const shared::fs::Descriptor from(::open((folder / "probe-from").c_str(), O_RDONLY | O_CLOEXEC));
  const shared::fs::Descriptor to(
      ::open((folder / "probe-to").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  return ::ioctl(to.get(), FICLONE, from.get()) == 0;
}

// Overwrites a file in place, keeping its inode, size and modification time: a change that
// only reading it can find.
void corrupt_keeping_fingerprint(const std::string& path, const std::string& content) {
  const struct stat before = status_of(path);
  const shared::fs::Descriptor file(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  REQUIRE(file.get() >= 0);
  REQUIRE(::pwrite(file.get(), content.data(), content.size(), 0) ==
          static_cast<ssize_t>(content.size()));
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::futimens(file.get(), times) == 0);
}

} // namespace

TEST_CASE("cached files are hard-linked read-only; a write through one is noticed",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.bin", std::string(5000, 'a')}, {"b.bin", std::string(7000, 'b')}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  write_file(folder / "out2/a.bin.part", "left by a killed run");
  write_file(folder / "out2/b.bin.part", "left by a killed run");
  const ProcessResult second = incremental(server, folder, "out2");
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(contains(second.out, "2 from cache"));
  CHECK_FALSE(exists(folder / "out2/a.bin.part"));
  CHECK_FALSE(exists(folder / "out2/b.bin.part"));
  const struct stat placed = status_of(folder / "out2/a.bin");
  const struct stat cached = status_of(cached_object(folder, std::string(5000, 'a')));
  CHECK((placed.st_mode & 0222) == 0); // read-only, in the cache and so in the destination
  if (!reflinks_work(folder)) {
    CHECK(placed.st_ino == cached.st_ino);
  }

  SECTION("cacheLink copy: the destination gets a file of its own") {
    const ProcessResult r = incremental(server, folder, "out3", {"--cache-link", "copy"});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "2 from cache"));
    const struct stat copy = status_of(folder / "out3/a.bin");
    CHECK(copy.st_ino != cached.st_ino);
    CHECK((copy.st_mode & 0200) != 0);
    CHECK(read_file(folder / "out3/a.bin") == std::string(5000, 'a'));
  }
  SECTION("a write through the destination is caught, downloaded again, and the cache mended") {
    ::chmod((folder / "out2/a.bin").c_str(), 0644);
    write_file(folder / "out2/a.bin", "changed in the workspace");
    const ProcessResult r = incremental(server, folder, "out3");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "cached copy of a.bin not used (SHA-256 mismatch"));
    CHECK(read_file(folder / "out3/a.bin") == std::string(5000, 'a'));
    CHECK(server.request_count("/a.bin") == 2);
    const ProcessResult again = incremental(server, folder, "out4");
    REQUIRE(again.exit_code == 0);
    CHECK(contains(again.out, "2 from cache"));
    CHECK(server.request_count("/a.bin") == 2);
    CHECK(read_file(folder / "out4/a.bin") == std::string(5000, 'a'));
  }
}

TEST_CASE("cacheValidation hash finds a change the fingerprint cannot see", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "the real content"}});
  REQUIRE(incremental(server, folder, "out1", {"--cache-link", "copy"}).exit_code == 0);
  corrupt_keeping_fingerprint(cached_object(folder, "the real content"), "the real c0ntent");
  SECTION("fingerprint (default): trusted as it is (documented)") {
    REQUIRE(incremental(server, folder, "out2").exit_code == 0);
    CHECK(read_file(folder / "out2/a.txt") == "the real c0ntent");
    CHECK(server.request_count("/a.txt") == 1);
  }
  SECTION("hash: caught, downloaded, and not kept in the cache") {
    const ProcessResult r = incremental(server, folder, "out2", {"--cache-validation", "hash"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.err, "cached copy of a.txt not used (SHA-256 mismatch"));
    CHECK(read_file(folder / "out2/a.txt") == "the real content");
    CHECK(read_file(cached_object(folder, "the real content")) == "the real content");
  }
}

TEST_CASE("SIGKILL during the cache update: the next run is right and says what it found",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 24; ++i) {
    files["f" + std::to_string(i)] = std::string(2 << 20, static_cast<char>('a' + i));
  }
  publish(server, files);
  const std::string base = folder / "cache/ArtifactEngineCache";
  // Killed as soon as its next generation's folder appears, before the objects are copied
  // (48 MiB: that takes a while).
  const auto kill_during_update = [&](const std::string& out) {
    ProcessOptions kill;
    kill.signal = SIGKILL;
    kill.signal_when = [&] {
      std::error_code ec;
      for (const auto& key : std::filesystem::directory_iterator(base, ec)) {
        for (const auto& entry : std::filesystem::directory_iterator(key.path(), ec)) {
          if (entry.path().filename().string().rfind("new-", 0) == 0) {
            return true;
          }
        }
      }
      return false;
    };
    return run_process({k_download, server.url("/"), "--destination", folder / out, "--incremental",
                        "--cache-directory", folder / "cache", "--cache-link", "copy"},
                       kill);
  };

  SECTION("during the first update: no cache, a leftover, a right tree") {
    const ProcessResult killed = kill_during_update("out1");
    REQUIRE(killed.exit_code == 128 + SIGKILL);
    const ProcessResult r = incremental(server, folder, "out2");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "1 leftover(s) of an interrupted update"));
    CHECK((contains(r.out, "not used: no cache for this key yet") ||
           contains(r.out, "not used: no .verify marker")));
    CHECK(contains(r.out, "Cache updated"));
    for (const auto& [path, content] : files) {
      CHECK(read_file(folder / ("out2/" + path)) == content);
    }
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(key_folder(folder))) {
      names.insert(entry.path().filename().string());
    }
    CHECK(names == std::set<std::string>{"current", "objects"}); // the leftover is gone
  }
  SECTION("during a later update: the previous cache is still trusted") {
    REQUIRE(incremental(server, folder, "out1", {"--cache-link", "copy"}).exit_code == 0);
    files["f0"] = std::string(2 << 20, 'z');
    publish(server, files);
    const ProcessResult killed = kill_during_update("out2");
    REQUIRE(killed.exit_code == 128 + SIGKILL);
    const ProcessResult r = incremental(server, folder, "out3");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "(trusted, last updated"));
    CHECK(contains(r.out, "1 leftover(s) of an interrupted update"));
    CHECK(contains(r.out, "23 from cache"));
    for (const auto& [path, content] : files) {
      CHECK(read_file(folder / ("out3/" + path)) == content);
    }
  }
}

TEST_CASE("two downloads with one key at once: both trees right, the cache valid after",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  auto files = make_files(60);
  publish(server, files);
  REQUIRE(incremental(server, folder, "first").exit_code == 0);
  files["dir0/file0"] = "changed";
  publish(server, files);
  for (int round = 0; round < 3; ++round) {
    std::vector<ProcessResult> results(2);
    std::vector<std::thread> jobs;
    for (int j = 0; j < 2; ++j) {
      jobs.emplace_back([&, j] {
        results[j] = incremental(server, folder, "out" + std::to_string(round) + std::to_string(j));
      });
    }
    for (auto& job : jobs) {
      job.join();
    }
    for (int j = 0; j < 2; ++j) {
      INFO(results[j].out << results[j].err);
      REQUIRE(results[j].exit_code == 0);
      for (const auto& [path, content] : files) {
        CHECK(read_file(folder / ("out" + std::to_string(round) + std::to_string(j) + "/" +
                                  path)) == content);
      }
    }
  }
  const ProcessResult after = incremental(server, folder, "after");
  INFO(after.out << after.err);
  REQUIRE(after.exit_code == 0);
  CHECK(contains(after.out, "(trusted, last updated"));
  CHECK(contains(after.out, "60 from cache"));
  for (const auto& [path, content] : files) {
    CHECK(read_file(folder / ("after/" + path)) == content);
  }
}

TEST_CASE("a key locked by another job: the download goes without the cache and says so",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  const std::string lock_path = key_folder(folder) + ".lock";
  shared::fs::Descriptor lock(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(lock.get() >= 0);
  REQUIRE(::flock(lock.get(), LOCK_EX) == 0); // as an update in progress would
  const ProcessResult r = incremental(server, folder, "out2", {"--cache-lock-timeout", "0.3"});
  lock.close();
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.err, "is being updated by another job"));
  CHECK(contains(r.err, "downloading without the cache"));
  CHECK(read_file(folder / "out2/a.txt") == "A");
  CHECK(server.request_count("/a.txt") == 2);
  CHECK_FALSE(contains(r.out, "Cache updated"));
}

TEST_CASE("into the previous folder: unchanged hard-linked files stay as they are, with or "
          "without cleanDestination",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  auto files = make_files(12); // dir0, dir1, dir2
  publish(server, files);
  REQUIRE(incremental(server, folder, "out").exit_code == 0); // fills the cache, links out/ to it
  const bool clean = GENERATE(false, true);
  if (reflinks_work(folder)) {
    SUCCEED("reflinks here: no hard links to keep");
    return;
  }
  INFO("cleanDestination " << clean);
  // A second download so that out/ holds links placed from the cache (the first one's files
  // were downloaded, then linked into it).
  REQUIRE(incremental(server, folder, "out", {"--clean-destination"}).exit_code == 0);
  const struct stat before = status_of(folder / "out/dir0/file0");
  files["dir1/file1"] = "changed";
  publish(server, files);
  write_file(folder / "out/dir0/stale.txt", "not in the artifact");
  write_file(folder / "out/extra/stale.txt", "not in the artifact");
  std::this_thread::sleep_for(std::chrono::milliseconds(20)); // a new ctime would show
  std::vector<std::string> extra;
  if (clean) {
    extra.push_back("--clean-destination");
  }
  const ProcessResult r = incremental(server, folder, "out", extra);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "11 from cache"));
  const struct stat after = status_of(folder / "out/dir0/file0");
  CHECK(after.st_ino == before.st_ino);
  // Neither unlinked nor linked again (either would change its ctime).
  CHECK(after.st_ctim.tv_sec == before.st_ctim.tv_sec);
  CHECK(after.st_ctim.tv_nsec == before.st_ctim.tv_nsec);
  CHECK(read_file(folder / "out/dir1/file1") == "changed");
  for (const auto& [path, content] : files) {
    CHECK(read_file(folder / ("out/" + path)) == content);
  }
  CHECK(exists(folder / "out/dir0/stale.txt") == !clean);
  CHECK(exists(folder / "out/extra") == !clean);

  // A change the fingerprint cannot see, in a file that is in place (the cached object
  // itself): trusted by default, caught with cacheValidation hash, clean or not.
  corrupt_keeping_fingerprint(cached_object(folder, files["dir2/file2"]),
                              "X" + files["dir2/file2"].substr(1));
  extra.insert(extra.end(), {"--cache-validation", "hash"});
  const ProcessResult hashed = incremental(server, folder, "out", extra);
  INFO(hashed.out << hashed.err);
  REQUIRE(hashed.exit_code == 0);
  CHECK(contains(hashed.err, "cached copy of dir2/file2 not used (SHA-256 mismatch"));
  CHECK(read_file(folder / "out/dir2/file2") == files["dir2/file2"]);

  // cacheLink copy: the links go, each file gets an inode of its own.
  const ProcessResult copy = incremental(server, folder, "out", {"--cache-link", "copy"});
  INFO(copy.out << copy.err);
  REQUIRE(copy.exit_code == 0);
  CHECK(status_of(folder / "out/dir0/file0").st_ino != before.st_ino);
  CHECK(read_file(folder / "out/dir0/file0") == files["dir0/file0"]);
}

TEST_CASE("the cache is read while the source is listed; a failed listing does not wait for "
          "a locked key",
          "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  REQUIRE(incremental(server, folder, "out1").exit_code == 0);
  shared::fs::Descriptor lock(::open((key_folder(folder) + ".lock").c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(lock.get() >= 0);
  REQUIRE(::flock(lock.get(), LOCK_EX) == 0); // as an update in progress would
  FaultReply missing;
  missing.status = 404;
  server.on("/artifact-metadata.csv", {missing});
  server.on("/", {missing});
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult r = incremental(server, folder, "out2", {"--cache-lock-timeout", "30"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lock.close();
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(seconds < 10); // not the 30 s the lock would have been waited for
  CHECK_FALSE(contains(r.err, "being updated by another job"));
}

TEST_CASE("cacheMaxSize evicts whole keys, least recently used first", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.bin", std::string(100000, 'a')}});
  const auto run_key = [&](const std::string& key, const std::string& limit) {
    return incremental(server, folder, "out-" + key,
                       {"--cache-key", key, "--cache-max-size", limit, "--cache-link", "copy"});
  };
  REQUIRE(run_key("one", "0").exit_code == 0);
  REQUIRE(run_key("two", "0").exit_code == 0);
  REQUIRE(run_key("one", "0").exit_code == 0); // "one" is now the most recently used
  const ProcessResult r = run_key("three", "250kB");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "evicted 1 least recently used key(s)"));
  const std::string base = folder / "cache/ArtifactEngineCache/";
  const auto key_folder = [&](const std::string& key) {
    return base + shared::hash::to_hex(shared::hash::sha256(key), false);
  };
  CHECK(exists(key_folder("one")));
  CHECK_FALSE(exists(key_folder("two")));
  CHECK(exists(key_folder("three")));

  const ProcessResult alone = run_key("four", "50kB");
  INFO(alone.out << alone.err);
  CHECK(alone.exit_code == 0);
  CHECK(contains(alone.err, "this key's cache alone is larger than cacheMaxSize"));
  CHECK_FALSE(exists(key_folder("four")));
}

TEST_CASE("cache inputs are checked", "[incremental]") {
  TempDir folder;
  FaultServer server;
  publish(server, {{"a.txt", "A"}});
  const ProcessResult size = incremental(server, folder, "out", {"--cache-max-size", "lots"});
  CHECK(size.exit_code == 2);
  CHECK(contains(size.err, "--cache-max-size: expected a size"));
  const ProcessResult link = incremental(server, folder, "out", {"--cache-link", "symlink"});
  CHECK(link.exit_code == 2);
  CHECK(contains(link.err, "--cache-link: expected one of hardlink, copy"));
  CHECK_FALSE(exists(folder / "out"));
}
