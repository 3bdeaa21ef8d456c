// download-artifact --provider drs: a batch of files by id from a GA4GH DRS
// service (our DrsServer, bytes served by nginx), checked first, ordered by expected wait,
// fetched one at a time in Range parts; and --provider ghga: the work package from
// GHGA_WORK_PACKAGE_*, the user's Crypt4GH key checked first, <id><extension>.c4gh files made of
// the envelope and the body.
#include "shared/hash/sha256.hpp"
#include "tests/support/drs_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

extern char** environ;

using namespace tests::support;

namespace {

const std::string k_download = DOWNLOAD_ARTIFACT_EXE;
constexpr std::uint64_t k_part = 64u << 10;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string hex(const std::string& content) {
  return shared::hash::to_hex(shared::hash::sha256(content), false);
}

// The folder the server serves (one file per id) and the destination, in one temp folder.
struct Files {
  TempDir dir;
  std::string served = dir / "served";
  std::string out = dir / "out";
  std::map<std::string, std::string> contents;

  Files() { std::filesystem::create_directories(served); }

  const std::string& add(const std::string& id, std::size_t size) {
    contents[id] = random_bytes(size, static_cast<unsigned>(std::hash<std::string>()(id)));
    write_file(served + "/" + id, contents[id]);
    return contents[id];
  }
  std::string at(const std::string& name) const { return out + "/" + name; }
  // Whether the destination holds `id`'s content under `name`.
  bool right(const std::string& name, const std::string& id) const {
    return exists(at(name)) && hex(read_file(at(name))) == hex(contents.at(id));
  }
};

ProcessResult batch(const DrsServer& server, const Files& files,
                    const std::vector<std::string>& ids, const std::vector<std::string>& extra = {},
                    const ProcessOptions& options = {}) {
  std::vector<std::string> args = {k_download,      "--provider", "drs",         server.base_url(),
                                   "--destination", files.out,    "--part-size", "64KiB",
                                   "--retry-delay", "0.01"};
  for (const auto& id : ids) {
    args.push_back("--files");
    args.push_back(id);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return run_process(args, options);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(const std::string& range) {
  const auto dash = range.find('-');
  if (range.rfind("bytes=", 0) != 0 || dash == std::string::npos || dash + 1 == range.size()) {
    return std::nullopt;
  }
  return std::make_pair(std::stoull(range.substr(6, dash - 6)),
                        std::stoull(range.substr(dash + 1)));
}

// How many times each range of `id` was served (byte requests the server allowed), from the
// `from`th byte request on.
std::map<std::pair<std::uint64_t, std::uint64_t>, int>
served_ranges(const DrsServer& server, const std::string& id, std::size_t from = 0) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, int> served;
  const auto requests = server.byte_requests(id);
  for (std::size_t i = from; i < requests.size(); ++i) {
    if (requests[i].status == 200) {
      const auto range = parse_range(requests[i].range);
      INFO("Range: " << requests[i].range);
      REQUIRE(range);
      ++served[*range];
    }
  }
  return served;
}

// Every byte request of `id` (from the `from`th on) was a Range request, and the served ones
// cover the file in parts of k_part, each exactly once.
void check_parts(const DrsServer& server, const std::string& id, std::uint64_t size,
                 std::size_t from = 0) {
  INFO("parts of " << id);
  const auto requests = server.byte_requests(id);
  for (std::size_t i = from; i < requests.size(); ++i) {
    CHECK(!requests[i].range.empty());
  }
  const auto served = served_ranges(server, id, from);
  CHECK(served.size() == (size + k_part - 1) / k_part);
  std::uint64_t next = 0;
  for (const auto& [range, times] : served) {
    CHECK(range.first == next);
    CHECK(range.second == std::min(next + k_part, size) - 1);
    CHECK(times == 1);
    next = range.second + 1;
  }
  CHECK(next == size);
}

std::size_t byte_request_count(const DrsServer& server) {
  std::size_t count = 0;
  for (const auto& request : server.requests()) {
    count += request.kind == DrsRequest::Kind::bytes;
  }
  return count;
}

// The ids in the order of their first byte request.
std::vector<std::string> download_order(const DrsServer& server) {
  std::vector<std::string> order;
  for (const auto& request : server.requests()) {
    if (request.kind == DrsRequest::Kind::bytes &&
        std::find(order.begin(), order.end(), request.id) == order.end()) {
      order.push_back(request.id);
    }
  }
  return order;
}

// The start of the summary line, then its counts.
std::string summary(int downloaded) {
  return "Downloaded " + std::to_string(downloaded) + " files";
}

std::string counts(int exists, int unavailable, int failed) {
  return std::to_string(exists) + " skipped (exists), " + std::to_string(unavailable) +
         " skipped (unavailable), " + std::to_string(failed) + " failed";
}

DrsObjectBehaviour named(const std::string& name) {
  DrsObjectBehaviour behaviour;
  behaviour.name = name;
  return behaviour;
}

DrsObjectBehaviour staging(int polls, std::optional<std::string> retry_after) {
  DrsObjectBehaviour behaviour;
  behaviour.staging_polls = polls;
  behaviour.retry_after = std::move(retry_after);
  return behaviour;
}

DrsObjectBehaviour error(int status) {
  DrsObjectBehaviour behaviour;
  behaviour.error_status = status;
  behaviour.error_times = DrsObjectBehaviour::k_always;
  return behaviour;
}

} // namespace

TEST_CASE("batch: ready files are fetched in Range parts as <id><extension>", "[batch]") {
  Files files;
  files.add("a1", 5 * k_part + 123);
  files.add("b2", 3 * k_part);
  files.add("c3", 1000);
  files.add("e0", 0);
  DrsServer server(files.served);
  server.set_behaviour("a1", named("sample.fastq.gz"));
  server.set_behaviour("b2", named("some/folder/reads.bam"));
  // c3, e0: the DRS name is the id itself (no extension)
  write_file(files.dir / "ids.txt", "# more ids\nb2\n\n  c3  \ne0\n");

  const ProcessResult result = batch(server, files, {"a1", "@" + (files.dir / "ids.txt")});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("a1.fastq.gz", "a1"));
  CHECK(files.right("b2.bam", "b2"));
  CHECK(files.right("c3", "c3"));
  CHECK(files.right("e0", "e0"));
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(files.out)) {
    INFO(entry.path());
    CHECK(entry.path().extension() != ".part");
    ++entries;
  }
  CHECK(entries == 4);
  for (const auto& id : {"a1", "b2", "c3", "e0"}) {
    check_parts(server, id, files.contents[id].size());
  }
  CHECK(contains(result.out + result.err, summary(4)));
  CHECK(contains(result.out + result.err, counts(0, 0, 0)));
}

TEST_CASE("batch: ready files first, then staging ones by Retry-After", "[batch]") {
  Files files;
  for (const auto& id : {"staging-long", "ready-a", "staging-short", "ready-b"}) {
    files.add(id, 2 * k_part);
  }
  DrsServer server(files.served);
  server.set_behaviour("staging-long", staging(1, "1"));
  server.set_behaviour("staging-short", staging(1, "0"));

  const ProcessResult result =
      batch(server, files, {"staging-long", "ready-a", "staging-short", "ready-b"});
  const std::string log = result.out + result.err;
  INFO(log);
  REQUIRE(result.exit_code == 0);
  const std::vector<std::string> expected = {"ready-a", "ready-b", "staging-short", "staging-long"};
  CHECK(download_order(server) == expected);
  std::size_t previous = 0;
  for (const auto& id : expected) {
    INFO(id);
    const auto at = log.find("Downloading " + id + " (");
    REQUIRE(at != std::string::npos);
    CHECK(at >= previous);
    previous = at;
    CHECK(files.right(id, id));
  }
  // Each staging id: the check (202), one poll (200); ready ones: the check only.
  CHECK(server.object_requests("staging-long") == 2);
  CHECK(server.object_requests("staging-short") == 2);
  CHECK(server.object_requests("ready-a") == 1);
  CHECK(contains(log, counts(0, 0, 0)));
}

TEST_CASE("batch: a complete file stops the run without a terminal, or is skipped", "[batch]") {
  Files files;
  const std::string& have = files.add("have", 3 * k_part + 7);
  files.add("new", 2 * k_part);
  write_file(files.at("have.txt"), have);
  DrsServer server(files.served);
  server.set_behaviour("have", named("have.txt"));
  struct stat before {};
  REQUIRE(::stat(files.at("have.txt").c_str(), &before) == 0);

  SECTION("without --skip-downloaded: exit 2 before any download") {
    const ProcessResult result = batch(server, files, {"have", "new"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--skip-downloaded"));
    CHECK(contains(result.err, "have"));
    CHECK(contains(result.out + result.err, "already downloaded"));
    CHECK(byte_request_count(server) == 0);
    CHECK_FALSE(exists(files.at("new")));
  }
  SECTION("with --skip-downloaded: skipped, the others downloaded") {
    const ProcessResult result = batch(server, files, {"have", "new"}, {"--skip-downloaded"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(server.byte_requests("have").empty());
    CHECK(files.right("new", "new"));
    CHECK(files.right("have.txt", "have"));
    struct stat after {};
    REQUIRE(::stat(files.at("have.txt").c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    CHECK(contains(result.out + result.err, summary(1)));
    CHECK(contains(result.out + result.err, counts(1, 0, 0)));
  }
}

TEST_CASE("batch: a .part leftover or a wrong file of the right size is not downloaded",
          "[batch]") {
  Files files;
  files.add("left", 3 * k_part);
  const std::string& wrong = files.add("wrong", 2 * k_part + 5);
  write_file(files.at("left.part"), std::string(3 * k_part, 'x')); // looks complete: it is not
  std::string changed = wrong;
  changed[k_part + 3] = static_cast<char>(changed[k_part + 3] ^ 0x20);
  write_file(files.at("wrong"), changed);
  DrsServer server(files.served);

  // No flag and no terminal: neither counts as already downloaded, so nothing stops the run.
  const ProcessResult result = batch(server, files, {"left", "wrong"});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("left", "left"));
  CHECK_FALSE(exists(files.at("left.part")));
  CHECK(files.right("wrong", "wrong"));
  check_parts(server, "left", 3 * k_part);
  check_parts(server, "wrong", 2 * k_part + 5);
  CHECK(contains(result.out + result.err, counts(0, 0, 0)));
}

TEST_CASE("batch: unavailable ids stop the run without a terminal, or are skipped", "[batch]") {
  Files files;
  files.add("ok", 2 * k_part);
  files.add("gone", 1000);
  files.add("forbidden", 1000);
  files.add("flaky", k_part + 1);
  DrsServer server(files.served);
  server.set_behaviour("gone", error(404));
  server.set_behaviour("forbidden", error(403));
  DrsObjectBehaviour flaky = error(403); // 403 once: asked again, then ready
  flaky.error_times = 1;
  server.set_behaviour("flaky", flaky);
  const std::vector<std::string> ids = {"gone", "ok", "forbidden", "missing", "flaky"};

  SECTION("without --skip-unavailable: exit 2 before any download") {
    const ProcessResult result = batch(server, files, ids);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--skip-unavailable"));
    for (const auto& id : {"gone", "forbidden", "missing"}) {
      CHECK(contains(result.err, "\n  " + std::string(id)));
    }
    CHECK_FALSE(contains(result.err, "\n  ok"));
    CHECK_FALSE(contains(result.err, "\n  flaky"));
    CHECK(byte_request_count(server) == 0);
    CHECK_FALSE(exists(files.at("ok")));
  }
  SECTION("--skip-downloaded does not answer for unavailable ids") {
    const ProcessResult result = batch(server, files, ids, {"--skip-downloaded"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(byte_request_count(server) == 0);
  }
  SECTION("with --skip-unavailable: skipped, the others downloaded") {
    const ProcessResult result = batch(server, files, ids, {"--skip-unavailable"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(files.right("ok", "ok"));
    CHECK(files.right("flaky", "flaky"));
    for (const auto& id : {"gone", "forbidden", "missing"}) {
      CHECK(server.byte_requests(id).empty());
      CHECK_FALSE(exists(files.at(id)));
    }
    CHECK(server.object_requests("gone") == 1);
    CHECK(server.object_requests("forbidden") <= 2);
    CHECK(contains(result.out + result.err, summary(2)));
    CHECK(contains(result.out + result.err, counts(0, 3, 0)));
    CHECK(contains(result.out + result.err, "404"));
    CHECK(contains(result.out + result.err, "403"));
  }
}

// Only 404 and 403 are "unavailable" (a question for the user); a 202 without Retry-After is a
// protocol error of the service: that file fails (exit 1), without stopping the run to ask.
TEST_CASE("batch: 202 without Retry-After at the check fails the file, with the reason",
          "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("noretry", k_part);
  DrsServer server(files.served);
  server.set_behaviour("noretry", staging(1, std::nullopt));

  const std::vector<std::string> flags =
      GENERATE(std::vector<std::string>{}, std::vector<std::string>{"--skip-unavailable"});
  INFO("flags: " << flags.size());
  const ProcessResult result = batch(server, files, {"noretry", "ok"}, flags);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(contains(result.out + result.err, "noretry ("));
  CHECK(contains(result.out + result.err, "Retry-After"));
  CHECK(files.right("ok", "ok"));
  CHECK_FALSE(exists(files.at("noretry")));
  CHECK(server.byte_requests("noretry").empty());
  CHECK(server.object_requests("noretry") == 1);
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

// Only 404 and 403 on GET /objects/{id} are "unavailable". A server error that the HTTP
// layer's retries did not cure (503 here) fails that file (exit 1) and the others are
// downloaded; a service that cannot be reached at all (nothing answered any check) ends the
// run at once, exit 3, before anything is downloaded.
TEST_CASE("batch: a server error on GET /objects/{id} is a failure, not unavailable", "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("broken", k_part);
  DrsServer server(files.served);
  server.set_behaviour("broken", error(503));

  SECTION("503 after the retries: that file fails, the others are downloaded") {
    const ProcessResult result =
        batch(server, files, {"broken", "ok"}, {"--skip-unavailable", "--retries", "2"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(files.right("ok", "ok"));
    CHECK_FALSE(exists(files.at("broken")));
    CHECK_FALSE(exists(files.at("broken.part")));
    CHECK(server.object_requests("broken") == 3); // the check and its 2 retries, no more
    CHECK(server.byte_requests("broken").empty());
    CHECK(contains(result.out + result.err, "broken ("));
    CHECK(contains(result.out + result.err, "503"));
    CHECK(contains(result.out + result.err, summary(1)));
    CHECK(contains(result.out + result.err, counts(0, 0, 1)));
  }
  SECTION("without --skip-unavailable the run is not stopped to ask: it is not unavailable") {
    const ProcessResult result = batch(server, files, {"broken", "ok"}, {"--retries", "0"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(files.right("ok", "ok"));
    CHECK(contains(result.out + result.err, counts(0, 0, 1)));
  }
  SECTION("a service that cannot be reached: exit 3, nothing written") {
    const ProcessResult unreachable =
        run_process({k_download, "--provider", "drs", "http://127.0.0.1:1/ga4gh/drs/v1",
                     "--destination", files.out, "--files", "ok", "--files", "broken",
                     "--skip-unavailable", "--retries", "1", "--retry-delay", "0.01"});
    INFO(unreachable.out << unreachable.err);
    CHECK(unreachable.exit_code == 3);
    CHECK(contains(unreachable.err, "cannot reach the DRS service"));
    CHECK_FALSE(contains(unreachable.out + unreachable.err, "skipped (unavailable)"));
    CHECK_FALSE(exists(files.at("ok")));
  }
}

TEST_CASE("batch: an access URL that expires is replaced and finished parts are kept", "[batch]") {
  Files files;
  files.add("expiring", 6 * k_part);
  files.add("other", 2 * k_part);
  DrsServer server(files.served);
  DrsObjectBehaviour expiring;
  expiring.url_max_requests = 2;
  server.set_behaviour("expiring", expiring);

  const std::string parallel = GENERATE(as<std::string>{}, "1", "2", "8");
  INFO("--parallel " << parallel);
  const ProcessResult result =
      batch(server, files, {"expiring", "other"}, {"--parallel", parallel});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("expiring", "expiring"));
  CHECK(files.right("other", "other"));
  CHECK(contains(result.out + result.err, "asking for a fresh one"));
  CHECK(server.object_requests("expiring") >= 3); // 6 parts, 2 a URL: two fresh URLs at least
  CHECK(server.access_urls_issued("expiring") >= 3);
  check_parts(server, "expiring", 6 * k_part);
  std::size_t refused = 0;
  for (const auto& request : server.byte_requests("expiring")) {
    refused += request.refusal == "expired: requests";
  }
  CHECK(refused >= 1);
  CHECK_FALSE(exists(files.at("expiring.part")));
}

TEST_CASE("batch: a part answered 500 is retried alone", "[batch]") {
  Files files;
  files.add("faulty", 5 * k_part + 99);
  DrsServer server(files.served);
  DrsObjectBehaviour faulty;
  faulty.range_faults = {DrsRangeFault{2 * k_part, 500, 3}};
  server.set_behaviour("faulty", faulty);

  const ProcessResult result = batch(server, files, {"faulty"}, {"--parallel", "3"});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("faulty", "faulty"));
  check_parts(server, "faulty", 5 * k_part + 99);
  std::map<std::uint64_t, std::vector<int>> statuses; // by the part's first byte
  for (const auto& request : server.byte_requests("faulty")) {
    const auto range = parse_range(request.range);
    REQUIRE(range);
    statuses[range->first].push_back(request.status);
  }
  CHECK(statuses[2 * k_part] == std::vector<int>{500, 500, 500, 200});
  for (const auto& [first, seen] : statuses) {
    if (first != 2 * k_part) {
      INFO("part at " << first);
      CHECK(seen == std::vector<int>{200});
    }
  }
  CHECK(server.object_requests("faulty") == 1);
}

TEST_CASE("batch: a part always answered 403 fails its file after a few fresh URLs", "[batch]") {
  Files files;
  files.add("locked", 8 * k_part);
  files.add("next", k_part);
  DrsServer server(files.served);
  DrsObjectBehaviour locked;
  locked.range_faults = {DrsRangeFault{3 * k_part, 403, DrsObjectBehaviour::k_always}};
  server.set_behaviour("locked", locked);

  const ProcessResult result = batch(server, files, {"locked", "next"}, {"--parallel", "2"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK_FALSE(exists(files.at("locked")));
  CHECK_FALSE(exists(files.at("locked.part")));
  CHECK(files.right("next", "next"));
  CHECK(contains(result.out + result.err, "asking for a fresh one"));
  CHECK(server.object_requests("locked") >= 2); // the check, then fresh URLs: a bounded number
  CHECK(server.object_requests("locked") <= 4);
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

// Access URLs good for fewer requests than --parallel (one-time or few-use presigned URLs):
// parts see 403s on URLs the other parts used up. One fresh URL per URL used up (however many
// parts saw its 403), tried first by the part that asked for it; only a 403 on such a fresh
// URL counts against a part. Before, every 403 counted and a file like this one (32 parts, 2
// requests a URL, parallel 8) always failed, its finished parts thrown away.
TEST_CASE("batch: URLs good for 2 requests do not fail a file of many parts", "[batch]") {
  Files files;
  files.add("many", 32 * k_part);
  DrsServer server(files.served);
  DrsObjectBehaviour many;
  many.url_max_requests = 2;
  server.set_behaviour("many", many);

  const ProcessResult result = batch(server, files, {"many"}, {"--parallel", "8"});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("many", "many"));
  check_parts(server, "many", 32 * k_part); // every part served once: none redone
  // 2 parts a URL: at least 15 fresh ones; at most one per part (no refresh storm).
  CHECK(server.object_requests("many") >= 16);
  CHECK(server.object_requests("many") <= 1 + 32);
  CHECK(contains(result.out + result.err, summary(1)));
}

TEST_CASE("batch: a checksum mismatch fails the file (exit 4) and the others are downloaded",
          "[batch]") {
  Files files;
  files.add("good1", 2 * k_part);
  files.add("bad", 3 * k_part + 1);
  files.add("good2", k_part / 2);
  DrsServer server(files.served);
  DrsObjectBehaviour bad = named("bad.bin");
  bad.wrong_checksum = true;
  server.set_behaviour("bad", bad);

  const ProcessResult result = batch(server, files, {"good1", "bad", "good2"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 4);
  CHECK_FALSE(exists(files.at("bad.bin")));
  CHECK_FALSE(exists(files.at("bad.bin.part")));
  CHECK(files.right("good1", "good1"));
  CHECK(files.right("good2", "good2"));
  CHECK(contains(result.out + result.err, "SHA-256"));
  CHECK(contains(result.out + result.err, summary(2)));
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

TEST_CASE("batch: --skip-validation checks sizes only, on downloads and on existing files",
          "[batch]") {
  Files files;
  files.add("bad", 3 * k_part + 1);
  const std::string& have = files.add("have", 2 * k_part);
  std::string changed = have;
  changed[5] = static_cast<char>(changed[5] ^ 1);
  write_file(files.at("have"), changed); // right size, wrong bytes
  DrsServer server(files.served);
  DrsObjectBehaviour bad;
  bad.wrong_checksum = true;
  server.set_behaviour("bad", bad);

  const ProcessResult result =
      batch(server, files, {"bad", "have"}, {"--skip-validation", "--skip-downloaded"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(files.right("bad", "bad"));
  CHECK(read_file(files.at("have")) == changed); // taken as already downloaded
  CHECK(server.byte_requests("have").empty());
  CHECK(contains(result.out + result.err, counts(1, 0, 0)));
}

TEST_CASE("batch: staging longer than --max-wait fails that file (exit 1)", "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("slow", k_part);
  DrsServer server(files.served);
  server.set_behaviour("slow", staging(1000, "1"));

  const ProcessResult result = batch(server, files, {"slow", "ok"}, {"--max-wait", "0.5"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(files.right("ok", "ok"));
  CHECK_FALSE(exists(files.at("slow")));
  CHECK_FALSE(exists(files.at("slow.part")));
  CHECK(server.byte_requests("slow").empty());
  CHECK(contains(result.out + result.err, "still being staged"));
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

namespace {

// "late" answers 202 with Retry-After: 1 to the first check, then (changed while the run waits)
// 202 without Retry-After to the poll; "ok" is ready.
ProcessResult staging_then_no_retry_after(DrsServer& server, const Files& files) {
  server.set_behaviour("late", staging(1, "1"));
  ProcessOptions options;
  options.signal = SIGCONT; // harmless: signal_when only serves to act during the run
  options.signal_when = [&server] {
    if (server.object_requests("late") == 0) {
      return false;
    }
    server.set_behaviour("late", staging(5, std::nullopt));
    return true;
  };
  return batch(server, files, {"late", "ok"}, {}, options);
}

} // namespace

TEST_CASE("batch: 202 without Retry-After while polling fails that file", "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("late", k_part);
  DrsServer server(files.served);

  const ProcessResult result = staging_then_no_retry_after(server, files);
  INFO(result.out << result.err);
  CHECK(result.exit_code != 0);
  CHECK(server.object_requests("late") == 2);
  CHECK(files.right("ok", "ok"));
  CHECK_FALSE(exists(files.at("late")));
  CHECK_FALSE(exists(files.at("late.part")));
  CHECK(contains(result.out + result.err, "Retry-After"));
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

// A protocol error of the service (http::ProtocolError) is not an integrity failure (exit 4 is
// for a hash or size that did not match): the file fails with exit 1, as at the first check.
TEST_CASE("batch: 202 without Retry-After while polling is not an integrity failure", "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("late", k_part);
  DrsServer server(files.served);

  const ProcessResult result = staging_then_no_retry_after(server, files);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(contains(result.out + result.err, "no Retry-After"));
  CHECK(files.right("ok", "ok"));
}

// "Retry-After: 0" again and again: polled at least 1 s apart (before, the announced delays
// were summed against --max-wait, so 0 never added up and the file was polled in a tight loop,
// tens of thousands of GET /objects/{id} a second, for ever); the wait is measured, so
// --max-wait 2.5 ends it after a few polls. The watchdog only keeps a regression from hanging.
TEST_CASE("batch: --max-wait also ends staging announced with Retry-After: 0", "[batch]") {
  Files files;
  files.add("ok", k_part);
  files.add("busy", k_part);
  DrsServer server(files.served);
  server.set_behaviour("busy", staging(1000000, "0"));

  ProcessOptions watchdog;
  watchdog.signal = SIGKILL;
  watchdog.signal_after_ms = 30000;
  const ProcessResult result =
      batch(server, files, {"busy", "ok"}, {"--max-wait", "2.5"}, watchdog);
  INFO(result.out.substr(0, 2000) << result.err.substr(0, 2000));
  INFO("GET /objects/busy: " << server.object_requests("busy"));
  CHECK(result.exit_code == 1);
  CHECK(files.right("ok", "ok"));
  CHECK(contains(result.out + result.err, "still being staged"));
  CHECK(server.object_requests("busy") >= 2); // the check, then polls while --max-wait lasts
  CHECK(server.object_requests("busy") <= 10);
  CHECK(server.byte_requests("busy").empty());
  CHECK(contains(result.out + result.err, counts(0, 0, 1)));
}

TEST_CASE("batch: after SIGKILL, a rerun skips finished files and redoes the interrupted one",
          "[batch]") {
  Files files;
  for (const auto& id : {"k1", "k2", "k3"}) {
    files.add(id, (4u << 20) + 17);
  }
  DrsServer server(files.served);
  const std::vector<std::string> ids = {"k1", "k2", "k3"};

  ProcessOptions kill;
  kill.signal = SIGKILL;
  kill.signal_when = [&files] { return exists(files.at("k2.part")); };
  const ProcessResult first = batch(server, files, ids, {"--parallel", "2"}, kill);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 128 + SIGKILL);
  REQUIRE(files.right("k1", "k1"));
  REQUIRE_FALSE(exists(files.at("k2")));
  REQUIRE(exists(files.at("k2.part")));
  CHECK_FALSE(exists(files.at("k3")));

  const std::size_t k1_before = server.byte_requests("k1").size();
  const std::size_t k2_before = server.byte_requests("k2").size();
  const ProcessResult second = batch(server, files, ids, {"--parallel", "2", "--skip-downloaded"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(server.byte_requests("k1").size() == k1_before);
  check_parts(server, "k2", files.contents["k2"].size(), k2_before); // all of it again
  for (const auto& id : ids) {
    CHECK(files.right(id, id));
    CHECK_FALSE(exists(files.at(id + ".part")));
  }
  CHECK(contains(second.out + second.err, summary(2)));
  CHECK(contains(second.out + second.err, counts(1, 0, 0)));
}

// SIGTERM while a file's parts are in flight: the parts stop within one buffer (the ranged
// download's sink polls the cancel flag), its .part is removed, and no later file is started.
TEST_CASE("batch: SIGTERM mid-file exits 130 and removes the .part", "[batch]") {
  Files files;
  files.add("t1", (4u << 20) + 1);
  files.add("t2", k_part);
  DrsServer server(files.served);

  ProcessOptions term;
  term.signal = SIGTERM;
  term.signal_when = [&files] { return exists(files.at("t1.part")); };
  const ProcessResult result = batch(server, files, {"t1", "t2"}, {"--parallel", "2"}, term);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 130);
  CHECK_FALSE(exists(files.at("t1.part")));
  CHECK_FALSE(exists(files.at("t2")));
  CHECK_FALSE(exists(files.at("t2.part")));
}

TEST_CASE("batch: the token goes to the DRS service, never to the access URLs", "[batch]") {
  Files files;
  files.add("secret", 2 * k_part);
  DrsServerOptions options;
  options.objects_require_token = true;
  DrsServer server(files.served, options);

  const ProcessResult result = batch(server, files, {"secret"}, {"--token", options.token});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(files.right("secret", "secret"));
  for (const auto& request : server.byte_requests("secret")) {
    CHECK(request.status == 200);
    CHECK_FALSE(contains(request.authorization, options.token));
  }
}

namespace {

struct TerminalResult {
  int exit_code = -1;
  std::string output; // what the terminal showed
};

// Runs argv on a pseudo-terminal (stdin, stdout, stderr), types `answer` + Enter when it asks
// "[y/n]"; killed after 10 s.
TerminalResult run_on_terminal(const std::vector<std::string>& args, const std::string& answer) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string variable = *e;
    if (variable.rfind("INPUT_", 0) != 0 && variable.rfind("TF_BUILD=", 0) != 0 &&
        variable.rfind("GITHUB_ACTIONS=", 0) != 0) {
      env.push_back(variable);
    }
  }
  std::vector<char*> argv_ptrs;
  for (const auto& arg : args) {
    argv_ptrs.push_back(const_cast<char*>(arg.c_str()));
  }
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (auto& variable : env) {
    env_ptrs.push_back(variable.data());
  }
  env_ptrs.push_back(nullptr);

  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    throw std::runtime_error("forkpty failed");
  }
  if (pid == 0) {
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  TerminalResult result;
  bool answered = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    pollfd fd{master, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 100);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;
    }
    char buffer[4096];
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) { // EIO once the child's side is closed
      break;
    }
    result.output.append(buffer, static_cast<std::size_t>(n));
    if (!answered && contains(result.output, "[y/n]")) {
      const std::string line = answer + "\n";
      REQUIRE(::write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      answered = true;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(master);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

} // namespace

TEST_CASE("batch: on a terminal, the user is asked about existing files", "[batch]") {
  Files files;
  const std::string& have = files.add("have", 2 * k_part);
  files.add("new", 2 * k_part);
  write_file(files.at("have"), have);
  DrsServer server(files.served);
  const std::vector<std::string> args = {
      k_download, "--provider", "drs", server.base_url(), "--destination", files.out, "--files",
      "have",     "--files",    "new", "--part-size",     "64KiB"};

  SECTION("y: skipped, the others downloaded") {
    const TerminalResult result = run_on_terminal(args, "y");
    INFO(result.output);
    CHECK(contains(result.output, "[y/n]"));
    CHECK(result.exit_code == 0);
    CHECK(server.byte_requests("have").empty());
    CHECK(files.right("new", "new"));
    CHECK(files.right("have", "have"));
  }
  SECTION("n: cancelled (exit 130), nothing downloaded") {
    const TerminalResult result = run_on_terminal(args, "n");
    INFO(result.output);
    CHECK(contains(result.output, "[y/n]"));
    CHECK(result.exit_code == 130);
    CHECK(byte_request_count(server) == 0);
    CHECK_FALSE(exists(files.at("new")));
  }
}

// ---- provider ghga: the work package from GHGA_WORK_PACKAGE_*, the user's key checked first,
// each file saved as <id><extension>.c4gh = its Crypt4GH envelope, then the encrypted body.

namespace {

const std::string k_user_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";   // bytes 0..31
const std::string k_other_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";  // bytes 32..63
const std::string k_server_key = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="; // bytes 64..95

std::string key_file_text(const std::string& base64) {
  return "-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + base64 + "\n-----END CRYPT4GH PUBLIC KEY-----\n";
}

std::string le32(std::uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
  return bytes;
}

// A Crypt4GH header as GHGA's envelope endpoint returns it: magic, version 1, one packet of
// method 0 (X25519 + ChaCha20-Poly1305: writer's key, nonce, encrypted data key, MAC), 124
// bytes. Its content is random: nothing here decrypts it.
std::string envelope(unsigned seed) {
  return "crypt4gh" + le32(1) + le32(1) + le32(108) + le32(0) + random_bytes(100, seed);
}

// A GHGA run: the fixture's token for the envelopes, the key file `key_path`, the work
// package in `env` (over the complete one of `files_json`).
struct Ghga {
  std::string key_path;
  std::map<std::string, std::string> env;

  Ghga(const Files& files, const std::string& files_json) {
    key_path = files.dir / "me.pub";
    write_file(key_path, key_file_text(k_user_key));
    env = {{"GHGA_WORK_PACKAGE_FILES", files_json},
           {"GHGA_WORK_PACKAGE_USER_ID", "user-7"},
           {"GHGA_WORK_PACKAGE_USER_PUBLIC_KEY", k_user_key},
           {"GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY", key_file_text(k_server_key)}};
  }

  ProcessResult run(const DrsServer& server, const Files& files,
                    const std::vector<std::string>& extra = {},
                    const std::vector<std::string>& unset = {}) const {
    std::vector<std::string> args = {
        k_download,      "--provider", "ghga",        server.base_url(),
        "--destination", files.out,    "--part-size", "64KiB",
        "--retry-delay", "0.01",       "--token",     DrsServerOptions().token};
    if (!key_path.empty()) {
      args.push_back("--my-public-key-path");
      args.push_back(key_path);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessOptions options;
    options.set_env = env;
    options.unset_env = unset;
    for (const auto& name : unset) {
      options.set_env.erase(name);
    }
    return run_process(args, options);
  }
};

std::size_t lines_of(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

TEST_CASE("ghga: each file is its envelope then its body, as <id><extension>.c4gh",
          "[batch][ghga]") {
  Files files;
  files.add("GHGAF1", 5 * k_part + 321);
  files.add("GHGAF2", 1000);
  files.add("GHGAF3", 2 * k_part);
  DrsServer server(files.served);
  server.set_behaviour("GHGAF1", named("ignored-name.txt")); // the work package names the file
  std::map<std::string, std::string> envelopes;
  unsigned seed = 1;
  for (const auto& id : {"GHGAF1", "GHGAF2", "GHGAF3"}) {
    envelopes[id] = envelope(seed++);
    server.set_envelope(id, envelopes[id]);
  }
  const Ghga ghga(files, R"({"GHGAF1": ".fastq.gz", "GHGAF2": "bam", "GHGAF3": ""})");

  const ProcessResult result = ghga.run(server, files);
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const std::map<std::string, std::string> names = {
      {"GHGAF1", "GHGAF1.fastq.gz.c4gh"}, {"GHGAF2", "GHGAF2.bam.c4gh"}, {"GHGAF3", "GHGAF3.c4gh"}};
  for (const auto& [id, name] : names) {
    INFO(name);
    REQUIRE(exists(files.at(name)));
    const std::string got = read_file(files.at(name));
    CHECK(got.size() == envelopes[id].size() + files.contents[id].size());
    CHECK(got.substr(0, envelopes[id].size()) == envelopes[id]);
    CHECK(hex(got.substr(envelopes[id].size())) == hex(files.contents[id]));
    CHECK(server.envelope_requests(id) == 1);
    check_parts(server, id, files.contents[id].size());
  }
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(files.out)) {
    INFO(entry.path());
    CHECK(entry.path().extension() == ".c4gh");
    ++entries;
  }
  CHECK(entries == 3);
  const std::string log = result.out + result.err;
  CHECK(contains(log, "user-7"));
  CHECK(contains(log, summary(3)));
  CHECK(contains(log, counts(0, 0, 0)));
}

TEST_CASE("ghga: a public key that is not the work package's stops the run before any request",
          "[batch][ghga]") {
  Files files;
  files.add("GHGAF1", 2 * k_part);
  DrsServer server(files.served);
  server.set_envelope("GHGAF1", envelope(1));
  Ghga ghga(files, R"({"GHGAF1": ".bam"})");
  write_file(ghga.key_path, key_file_text(k_other_key));

  SECTION("--my-public-key-path") {
    const ProcessResult result = ghga.run(server, files);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--my-public-key-path: the key in " + ghga.key_path));
    CHECK(contains(result.err, "not the one of the work package"));
    CHECK(lines_of(result.err) == 1);
  }
  SECTION("INPUT_MYPUBLICKEYPATH") {
    ghga.env["INPUT_MYPUBLICKEYPATH"] = ghga.key_path;
    ghga.key_path.clear();
    const ProcessResult result = ghga.run(server, files);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "INPUT_MYPUBLICKEYPATH: the key in"));
  }
  CHECK(server.requests().empty());
  CHECK(byte_request_count(server) == 0);
  CHECK_FALSE(exists(files.at("GHGAF1.bam.c4gh")));
  CHECK_FALSE(exists(files.at("GHGAF1.bam.c4gh.part")));
}

TEST_CASE("ghga: a malformed or unreadable key file stops the run before any request",
          "[batch][ghga]") {
  Files files;
  files.add("GHGAF1", k_part);
  DrsServer server(files.served);
  server.set_envelope("GHGAF1", envelope(1));
  Ghga ghga(files, R"({"GHGAF1": ".bam"})");
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"not armored", {"hello\n", "not base64"}},
      {"31 bytes", {key_file_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="), "31 bytes"}},
      {"no END line", {"-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + k_user_key + "\n", "no -----END"}},
      {"a private key",
       {"-----BEGIN CRYPT4GH PRIVATE KEY-----\nYzRnaC12MQ==\n-----END CRYPT4GH PRIVATE KEY-----\n",
        "private key"}},
      {"missing", {"", "cannot be read"}},
  };
  const std::string which = GENERATE(as<std::string>{}, "not armored", "31 bytes", "no END line",
                                     "a private key", "missing");
  INFO(which);
  const auto& [content, reason] = cases.at(which);
  if (which == "missing") {
    ghga.key_path = files.dir / "nowhere.pub";
  } else {
    write_file(ghga.key_path, content);
  }
  const ProcessResult result = ghga.run(server, files);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 2);
  CHECK(contains(result.err, "--my-public-key-path: " + ghga.key_path + ": "));
  CHECK(contains(result.err, reason));
  CHECK(lines_of(result.err) == 1);
  CHECK(server.requests().empty());
}

TEST_CASE("ghga: missing work-package variables or key path stop the run before any request",
          "[batch][ghga]") {
  Files files;
  files.add("GHGAF1", k_part);
  DrsServer server(files.served);
  server.set_envelope("GHGAF1", envelope(1));
  Ghga ghga(files, R"({"GHGAF1": ".bam"})");

  SECTION("a variable unset") {
    const std::string name =
        GENERATE(as<std::string>{}, "GHGA_WORK_PACKAGE_FILES", "GHGA_WORK_PACKAGE_USER_ID",
                 "GHGA_WORK_PACKAGE_USER_PUBLIC_KEY", "GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY");
    const ProcessResult result = ghga.run(server, files, {}, {name});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, name + " is not set"));
    CHECK(lines_of(result.err) == 1);
  }
  SECTION("a malformed variable") {
    ghga.env["GHGA_WORK_PACKAGE_FILES"] = "GHGAF1";
    const ProcessResult result = ghga.run(server, files);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "GHGA_WORK_PACKAGE_FILES: not a JSON object"));
  }
  SECTION("no --my-public-key-path") {
    ghga.key_path.clear();
    const ProcessResult result = ghga.run(server, files);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--my-public-key-path: provider ghga needs"));
  }
  SECTION("--files outside the work package") {
    const ProcessResult result = ghga.run(server, files, {"--files", "GHGAF9"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "GHGAF9 is not in the work package"));
  }
  CHECK(server.requests().empty());
  CHECK_FALSE(exists(files.out));
}

TEST_CASE("ghga: a complete .c4gh is already downloaded, a body alone or a wrong body is not",
          "[batch][ghga]") {
  Files files;
  const std::string& have = files.add("have", 3 * k_part + 5);
  const std::string& bare = files.add("bare", 2 * k_part);
  const std::string& wrong = files.add("wrong", 2 * k_part);
  DrsServer server(files.served);
  for (const auto& id : {"have", "bare", "wrong"}) {
    server.set_envelope(id, envelope(7));
  }
  // An envelope from an earlier run (envelopes differ from call to call), then the body.
  write_file(files.at("have.txt.c4gh"), envelope(99) + have);
  write_file(files.at("bare.c4gh"), bare); // what provider drs would have written
  std::string changed = wrong;
  changed[7] = static_cast<char>(changed[7] ^ 1);
  write_file(files.at("wrong.c4gh"), envelope(99) + changed);
  const Ghga ghga(files, R"({"have": ".txt", "bare": "", "wrong": ""})");

  SECTION("without --skip-downloaded and without a terminal: exit 2, nothing fetched") {
    const ProcessResult result = ghga.run(server, files);
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--skip-downloaded"));
    CHECK(contains(result.err, "\n  have"));
    CHECK_FALSE(contains(result.err, "\n  bare"));
    CHECK_FALSE(contains(result.err, "\n  wrong"));
    CHECK(byte_request_count(server) == 0);
  }
  SECTION("with --skip-downloaded: kept as it is, the others fetched again") {
    const ProcessResult result = ghga.run(server, files, {"--skip-downloaded"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(read_file(files.at("have.txt.c4gh")) == envelope(99) + have);
    CHECK(server.envelope_requests("have") == 0);
    CHECK(server.byte_requests("have").empty());
    CHECK(read_file(files.at("bare.c4gh")) == envelope(7) + bare);
    CHECK(read_file(files.at("wrong.c4gh")) == envelope(7) + wrong);
    CHECK(contains(result.out + result.err, counts(1, 0, 0)));
  }
}

TEST_CASE("ghga: an envelope that is not a Crypt4GH header, or none, fails that file",
          "[batch][ghga]") {
  Files files;
  files.add("good", 2 * k_part);
  files.add("garbled", 2 * k_part);
  files.add("none", k_part);
  DrsServer server(files.served);
  server.set_envelope("good", envelope(1));
  server.set_envelope("garbled", "not a crypt4gh header");
  // "none": no envelope (404 from GET /objects/none/envelopes)
  const Ghga ghga(files, R"({"garbled": "", "none": "", "good": ""})");

  const ProcessResult result = ghga.run(server, files);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(read_file(files.at("good.c4gh")) == envelope(1) + files.contents["good"]);
  for (const auto& name : {"garbled.c4gh", "none.c4gh"}) {
    CHECK_FALSE(exists(files.at(name)));
    CHECK_FALSE(exists(files.at(std::string(name) + ".part")));
  }
  CHECK(server.byte_requests("garbled").empty());
  CHECK(server.byte_requests("none").empty());
  CHECK(contains(result.out + result.err, "is not a Crypt4GH header"));
  CHECK(contains(result.out + result.err, "404"));
  CHECK(contains(result.out + result.err, counts(0, 0, 2)));
}
