// download-artifact: a large item fetched in segments (Range requests from several workers
// written at their offsets into one part file), against Debian's nginx (sizes from its JSON
// index, so the segments are planned up front) and our FaultServer (an artifact-metadata.csv
// listing gives no sizes: the item is split when its first response tells its size).
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/nginx_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

using namespace tests::support;

namespace {

const std::string k_download = DOWNLOAD_ARTIFACT_EXE;
constexpr std::size_t k_large = (12u << 20) + 12345; // three segments of the 4 MiB minimum

ProcessResult download(const std::string& source, const std::string& destination,
                       std::vector<std::string> extra = {}, const ProcessOptions& options = {}) {
  std::vector<std::string> args = {k_download,      source, "--destination", destination,
                                   "--parallel",    "4",    "--retries",     "1",
                                   "--retry-delay", "0.01"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_process(args, options);
}

// Lines of nginx's access log (default "combined" format) for `path` with `status`.
std::size_t logged(const NginxServer& nginx, const std::string& path, int status) {
  std::istringstream log(read_file(nginx.prefix() + "/logs/access.log"));
  std::size_t count = 0;
  for (std::string line; std::getline(log, line);) {
    count += line.find("\"GET " + path + " HTTP/1.1\" " + std::to_string(status) + " ") !=
             std::string::npos;
  }
  return count;
}

// A tree of one large file and a few small ones; returns the large file's content.
std::string make_tree(const std::string& root) {
  const std::string large = random_bytes(k_large, 7);
  write_file(root + "/large.bin", large);
  for (int i = 0; i < 3; ++i) {
    write_file(root + "/small-" + std::to_string(i) + ".txt", "small file " + std::to_string(i));
  }
  return large;
}

} // namespace

TEST_CASE("segments: a large file with a known size is fetched in Range parts by several workers",
          "[download-artifact][segments]") {
  TempDir folder;
  const std::string large = make_tree(folder / "www");
  NginxServer nginx(folder / "www");
  const ProcessResult r = download(nginx.url("/"), folder / "out");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(folder / "out/large.bin") == large);
  CHECK_FALSE(exists(folder / "out/large.bin.part"));
  CHECK(read_file(folder / "out/small-2.txt") == "small file 2");
  CHECK(logged(nginx, "/large.bin", 206) == 3);
  CHECK(logged(nginx, "/large.bin", 200) == 0);
}

TEST_CASE("segments: without sizes (artifact-metadata.csv), a large last file is split as it "
          "starts",
          "[download-artifact][segments]") {
  FaultServer server;
  const std::string large = random_bytes((24u << 20) + 777, 11);
  server.serve("/a-small.txt", "small");
  server.serve("/z-large.bin", large);
  server.serve("/artifact-metadata.csv",
               shared::metadata::to_csv({{"a-small.txt", shared::hash::sha256("small")},
                                         {"z-large.bin", shared::hash::sha256(large)}}));
  TempDir folder;
  const ProcessResult r = download(server.url("/"), folder / "out");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(folder / "out/z-large.bin") == large);
  CHECK_FALSE(exists(folder / "out/z-large.bin.part"));
  std::size_t ranged = 0;
  std::size_t whole = 0;
  std::set<int> connections; // of the ranged requests
  for (const auto& request : server.requests()) {
    if (request.target != "/z-large.bin") {
      continue;
    }
    if (request.headers.count("range") == 0) {
      ++whole;
      continue;
    }
    ++ranged;
    connections.insert(request.connection_id);
    if (request.headers.at("range") != "bytes=0-1048575") {
      CHECK(request.headers.at("accept-encoding") == "identity"); // a segment
    }
  }
  CHECK(whole == 0);
  CHECK(ranged == 7); // the first MiB, which told the size, then six segments of about 4 MiB
  // nothing else was left: the workers waited for the first part and took the segments
  CHECK(connections.size() >= 2);
  CHECK(r.out.find("Downloaded 3 files") != std::string::npos);
}

TEST_CASE("segments: a store that ignores Range gets the file whole",
          "[download-artifact][segments]") {
  TempDir folder;
  const std::string large = make_tree(folder / "www");
  NginxOptions options;
  options.extra_server_lines = {"max_ranges 0;"}; // nginx then answers Range with the whole file
  NginxServer nginx(folder / "www", options);
  const ProcessResult r = download(nginx.url("/"), folder / "out");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(folder / "out/large.bin") == large);
  CHECK_FALSE(exists(folder / "out/large.bin.part"));
  CHECK(logged(nginx, "/large.bin", 206) == 0);
  CHECK(r.out.find("fetching it whole") != std::string::npos);
}

TEST_CASE("segments: a wrong SHA-256 fails the file (exit 4) and leaves no part file",
          "[download-artifact][segments]") {
  FaultServer server;
  const std::string large = random_bytes(k_large, 13);
  server.serve("/large.bin", large);
  server.serve("/artifact-metadata.csv",
               shared::metadata::to_csv({{"large.bin", shared::hash::sha256("other content")}}));
  TempDir folder;
  const ProcessResult r = download(server.url("/"), folder / "out");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find("SHA-256 mismatch of the segments") != std::string::npos);
  CHECK_FALSE(exists(folder / "out/large.bin"));
  CHECK_FALSE(exists(folder / "out/large.bin.part"));
}

TEST_CASE("segments: SIGINT while segments stream exits 130 and leaves no part file",
          "[download-artifact][segments]") {
  TempDir folder;
  make_tree(folder / "www");
  NginxOptions options;
  options.extra_server_lines = {"limit_rate 1m;"}; // each 4 MiB segment takes seconds
  NginxServer nginx(folder / "www", options);
  ProcessOptions interrupt;
  interrupt.signal = SIGINT;
  const std::string part = folder / "out/large.bin.part";
  interrupt.signal_when = [&part] { return exists(part); };
  const ProcessResult r = download(nginx.url("/"), folder / "out", {}, interrupt);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 130);
  CHECK_FALSE(exists(part));
  CHECK_FALSE(exists(folder / "out/large.bin"));
}

TEST_CASE("segments: a file share with artifact-metadata.csv: segments checked against the hash",
          "[download-artifact][segments]") {
  TempDir folder;
  const std::string large = make_tree(folder / "drop");
  std::vector<shared::metadata::Entry> entries = {
      {"large.bin", shared::hash::sha256(large)},
      {"small-0.txt", shared::hash::sha256("small file 0")},
      {"small-1.txt", shared::hash::sha256("small file 1")},
      {"small-2.txt", shared::hash::sha256("small file 2")}};
  SECTION("the right hash: placed") {
    write_file(folder / "drop/artifact-metadata.csv", shared::metadata::to_csv(entries));
    const ProcessResult r = download(folder / "drop", folder / "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(folder / "out/large.bin") == large);
    CHECK(r.out.find("with SHA-256") != std::string::npos);
  }
  SECTION("a wrong hash: fetched whole once more, then failed (exit 4)") {
    entries[0].sha256 = shared::hash::sha256("something else");
    write_file(folder / "drop/artifact-metadata.csv", shared::metadata::to_csv(entries));
    const ProcessResult r = download(folder / "drop", folder / "out");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.out.find("SHA-256 mismatch of the segments") != std::string::npos);
    CHECK_FALSE(exists(folder / "out/large.bin"));
    CHECK_FALSE(exists(folder / "out/large.bin.part"));
    CHECK(read_file(folder / "out/small-1.txt") == "small file 1");
  }
}

TEST_CASE("segments: incremental, a changed large file of unknown size starts first, in segments",
          "[download-artifact][segments][incremental]") {
  // Sorted by path the large file comes first, before changed small files, so without the
  // cache's hint (its size last time) it would be fetched whole on one connection.
  FaultServer server;
  const std::string before = random_bytes((16u << 20) + 99, 21);
  const std::string after = random_bytes((16u << 20) + 99, 22);
  std::vector<shared::metadata::Entry> entries = {{"a-large.bin", shared::hash::sha256(before)}};
  for (int i = 0; i < 6; ++i) {
    const std::string name = "b-small-" + std::to_string(i) + ".txt";
    server.serve("/" + name, "small " + std::to_string(i));
    entries.push_back({name, shared::hash::sha256("small " + std::to_string(i))});
  }
  server.serve("/a-large.bin", before);
  server.serve("/artifact-metadata.csv", shared::metadata::to_csv(entries));
  TempDir folder;
  const std::vector<std::string> incremental = {"--incremental", "--cache-directory",
                                                folder / "cache"};
  const ProcessResult fill = download(server.url("/"), folder / "one", incremental);
  INFO(fill.out << fill.err);
  REQUIRE(fill.exit_code == 0);

  entries[0].sha256 = shared::hash::sha256(after);
  server.serve("/a-large.bin", after);
  for (int i = 0; i < 3; ++i) { // half the small files change too: to fetch after the large one
    const std::string name = "b-small-" + std::to_string(i) + ".txt";
    server.serve("/" + name, "changed " + std::to_string(i));
    entries[1 + i].sha256 = shared::hash::sha256("changed " + std::to_string(i));
  }
  server.serve("/artifact-metadata.csv", shared::metadata::to_csv(entries));
  const std::size_t earlier = server.requests().size();
  const ProcessResult r = download(server.url("/"), folder / "two", incremental);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(folder / "two/a-large.bin") == after);
  CHECK(read_file(folder / "two/b-small-0.txt") == "changed 0");
  CHECK(read_file(folder / "two/b-small-5.txt") == "small 5");
  const auto requests = server.requests();
  std::vector<std::string> ranges; // of a-large.bin in the second run, in order
  for (std::size_t k = earlier; k < requests.size(); ++k) {
    if (requests[k].target == "/a-large.bin") {
      const auto range = requests[k].headers.find("range");
      ranges.push_back(range == requests[k].headers.end() ? "whole" : range->second);
    }
  }
  REQUIRE_FALSE(ranges.empty());
  CHECK(ranges.front() == "bytes=0-1048575"); // the first MiB tells the size…
  CHECK(ranges.size() == 5);                  // …then four segments of about 4 MiB
  CHECK(std::count(ranges.begin(), ranges.end(), "whole") == 0);
  CHECK(r.out.find("3 from cache") != std::string::npos);
}
