// shared/transfer download() through an in-memory source (tests/support/memory_source.hpp):
// scheduling, item retries and integrity failures, fail_fast, cancellation, large items in
// ranged segments, stores that ignore ranges, and local copies.
#include "shared/hash/sha256.hpp"
#include "shared/transfer/downloader.hpp"
#include "tests/support/memory_source.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <sstream>
#include <sys/stat.h>

using shared::transfer::DownloadOptions;
using shared::transfer::DownloadSummary;
using shared::transfer::LocalCopy;
using namespace tests::support;

namespace {

constexpr std::uint64_t k_segment = 64u << 10; // bytes: small segments, to have several

// A download from a MemorySource into a temporary folder.
struct Fixture {
  TempDir folder;
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  DownloadOptions options;

  Fixture() {
    options.destination = folder / "out";
    options.patterns = shared::glob::PatternSet({"**"}, {});
    options.parallel = 4;
    options.retry.retries = 1;
    options.retry.base_delay = 0.001;
    options.min_segment_size = k_segment;
  }

  DownloadSummary download(MemorySource& source, const shared::source::Listing& listing) {
    return shared::transfer::download(source, listing, options, logger);
  }
  DownloadSummary download(MemorySource& source) { return download(source, source.listing()); }

  std::string placed(const std::string& path) const { return read_file(folder / ("out/" + path)); }

  // Paths of the part files left in the destination.
  std::vector<std::string> part_files() const {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder / "out")) {
      if (entry.path().extension() == ".part") {
        found.push_back(entry.path());
      }
    }
    return found;
  }
};

// Local copies by SHA-256, as a cache would find them; records those that failed their check.
class Copies : public shared::transfer::LocalCopies {
public:
  bool has(const shared::hash::Digest& sha256) const override { return m_copies.count(sha256); }
  std::optional<LocalCopy> find(const shared::source::Item& item) const override {
    const auto found = m_copies.find(*item.sha256);
    return found == m_copies.end() ? std::nullopt : std::optional<LocalCopy>(found->second);
  }
  void failed(const LocalCopy& copy) override { failures.push_back(copy.path); }

  // A copy at `path` holding `content`, found for the item whose content is `stands_for`.
  void add(const std::string& path, const std::string& content, const std::string& stands_for) {
    write_file(path, content);
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    m_copies[shared::hash::sha256(stands_for)] = {path,
                                                  false, // changed since cached: hashed
                                                  static_cast<std::uint64_t>(info.st_size),
                                                  static_cast<std::uint64_t>(info.st_dev),
                                                  static_cast<std::uint64_t>(info.st_ino),
                                                  -1,
                                                  {}};
  }

  std::vector<std::string> failures;

private:
  std::map<shared::hash::Digest, LocalCopy> m_copies;
};

} // namespace

TEST_CASE("download: every item is fetched and placed once, with any number of workers",
          "[transfer]") {
  Fixture f;
  f.options.parallel = GENERATE(1u, 3u, 32u); // 32: more workers than items
  INFO("parallel " << f.options.parallel);
  MemorySource source;
  std::map<std::string, std::string> items;
  for (int i = 0; i < 20; ++i) {
    const std::string path = "folder-" + std::to_string(i % 3) + "/item-" + std::to_string(i);
    items[path] = random_bytes(100 + 37 * i, i);
    source.add(path, items[path]);
  }

  const DownloadSummary summary = f.download(source);
  CHECK(summary.failures.empty());
  CHECK(summary.downloaded == items.size());
  CHECK(summary.not_attempted == 0);
  for (const auto& [path, content] : items) {
    INFO(path);
    CHECK(source.whole_requests(path) == 1);
    CHECK(source.ranged_requests(path) == 0);
    CHECK(f.placed(path) == content);
  }
  CHECK(f.part_files().empty());
  for (const auto& checked : summary.checked) {
    CHECK(checked.has_value());
  }
}

TEST_CASE("download: a corrupt response is fetched again, then placed", "[transfer]") {
  Fixture f;
  MemorySource source;
  source.add("a.txt", random_bytes(5000, 1));
  source.add("b.txt", random_bytes(6000, 2));
  source.corrupt("b.txt", 1);

  const DownloadSummary summary = f.download(source);
  CHECK(summary.failures.empty());
  CHECK(summary.retries == 1);
  CHECK(source.whole_requests("b.txt") == 2);
  CHECK(f.placed("b.txt") == random_bytes(6000, 2));
  CHECK(f.out.str().find("retry 1/1: b.txt: SHA-256 mismatch") != std::string::npos);
}

TEST_CASE("download: a SHA-256 mismatch on every try fails the item as an integrity error, "
          "leaving no file",
          "[transfer]") {
  Fixture f;
  f.options.retry.retries = 2;
  MemorySource source;
  source.add("a.txt", "good");
  source.add("bad.txt", random_bytes(5000, 3));
  source.corrupt("bad.txt", 100);

  const DownloadSummary summary = f.download(source);
  REQUIRE(summary.failures.size() == 1);
  CHECK(summary.failures[0].path == "bad.txt");
  CHECK(summary.exit_code() == shared::error::ExitCode::integrity);
  CHECK(source.whole_requests("bad.txt") == 3); // the first try and two retries
  CHECK_FALSE(exists(f.folder / "out/bad.txt"));
  CHECK(f.part_files().empty());
  CHECK(f.placed("a.txt") == "good");
}

TEST_CASE("download: fail_fast stops at the first failed item", "[transfer]") {
  Fixture f;
  f.options.parallel = 1;
  MemorySource source;
  for (char name = 'a'; name <= 'j'; ++name) { // one size: fetched in path order
    source.add(std::string(1, name) + ".txt", std::string(10, name));
  }
  source.fail("b.txt");
  f.options.fail_fast = GENERATE(false, true);
  INFO("fail_fast " << f.options.fail_fast);

  const DownloadSummary summary = f.download(source);
  REQUIRE(summary.failures.size() == 1);
  CHECK(summary.failures[0].path == "b.txt");
  CHECK(summary.exit_code() == shared::error::ExitCode::items_failed);
  CHECK(f.placed("a.txt") == "aaaaaaaaaa");
  if (f.options.fail_fast) {
    CHECK(summary.not_attempted == 8);
    CHECK(source.whole_requests("c.txt") == 0);
    CHECK_FALSE(exists(f.folder / "out/j.txt"));
  } else {
    CHECK(summary.not_attempted == 0);
    CHECK(summary.downloaded == 9);
  }
  CHECK(f.part_files().empty());
}

TEST_CASE("download: cancelled, it throws Interrupted and leaves no part file", "[transfer]") {
  Fixture f;
  MemorySource::Behaviour slow;
  slow.chunk = 4096;
  slow.delay = std::chrono::microseconds(500);
  slow.ranges = GENERATE(false, true); // the large item whole, or in segments
  INFO("ranges " << slow.ranges);
  MemorySource source(slow);
  source.add("large.bin", random_bytes(1u << 20, 4));
  for (int i = 0; i < 8; ++i) {
    source.add("small-" + std::to_string(i), random_bytes(20000, 10 + i));
  }
  std::atomic<int> polls{0};
  f.options.cancelled = [&polls] { return ++polls > 40; }; // some bytes in, then cancelled

  REQUIRE_THROWS_AS(f.download(source), shared::error::Interrupted);
  CHECK(f.part_files().empty());
  CHECK_FALSE(exists(f.folder / "out/large.bin"));
}

TEST_CASE("download: a large item is fetched in ranged segments, checked and byte-exact",
          "[transfer]") {
  Fixture f;
  MemorySource source;
  const std::string large = random_bytes((1u << 20) + 123, 5);
  source.add("small.txt", "small");
  source.add("z-large.bin", large); // last: without sizes, split once nothing else is left
  // Planned from its listed size, or split once its first bytes tell it.
  const bool sizes = GENERATE(true, false);
  INFO("sizes listed " << sizes);

  const DownloadSummary summary = f.download(source, source.listing(sizes));
  REQUIRE(summary.failures.empty());
  CHECK(f.placed("z-large.bin") == large);
  CHECK(source.whole_requests("z-large.bin") == 0);
  CHECK(source.ranged_requests("z-large.bin") > 8); // about 1 MiB in segments of 64 KiB
  CHECK(summary.downloaded == 2);
  CHECK(summary.bytes == large.size() + 5);
  CHECK(summary.checked[1].has_value()); // z-large.bin, checked against its SHA-256
  CHECK(f.part_files().empty());
}

TEST_CASE("download: segments that fail the SHA-256 get the item fetched whole", "[transfer]") {
  Fixture f;
  MemorySource source;
  const std::string large = random_bytes((1u << 20) + 7, 6);
  source.add("large.bin", large);
  const bool always = GENERATE(false, true); // one segment wrong, or every response
  INFO("every response corrupt " << always);
  source.corrupt("large.bin", always ? 1000 : 1);

  const DownloadSummary summary = f.download(source);
  CHECK(f.out.str().find("large.bin: SHA-256 mismatch of the segments") != std::string::npos);
  if (always) { // fetched whole, and retried once: then failed
    REQUIRE(summary.failures.size() == 1);
    CHECK(summary.exit_code() == shared::error::ExitCode::integrity);
    CHECK(source.whole_requests("large.bin") == 2);
    CHECK_FALSE(exists(f.folder / "out/large.bin"));
  } else {
    REQUIRE(summary.failures.empty());
    CHECK(summary.retries == 1);
    CHECK(source.whole_requests("large.bin") == 1);
    CHECK(f.placed("large.bin") == large);
  }
  CHECK(f.part_files().empty());
}

TEST_CASE("download: a store that ignores ranges gets the large item whole", "[transfer]") {
  Fixture f;
  MemorySource::Behaviour behaviour;
  behaviour.ignores_ranges = true;
  MemorySource source(behaviour);
  const std::string large = random_bytes((1u << 20) + 11, 7);
  source.add("large.bin", large);
  source.add("small.txt", "small");
  const bool sizes = GENERATE(true, false);
  INFO("sizes listed " << sizes);

  const DownloadSummary summary = f.download(source, source.listing(sizes));
  REQUIRE(summary.failures.empty());
  CHECK(f.placed("large.bin") == large);
  CHECK(source.whole_requests("large.bin") == 1);
  if (sizes) { // the planned segments were refused
    CHECK(f.out.str().find("large.bin: the store sent the whole item for a range: fetching it "
                           "whole") != std::string::npos);
  }
  CHECK(f.part_files().empty());
}

TEST_CASE("download: local copies are placed, and a copy that fails its check is fetched instead",
          "[transfer]") {
  Fixture f;
  MemorySource source;
  source.add("good.txt", "good content");
  source.add("bad.txt", "bad content");
  source.add("new.txt", "new content");
  Copies copies;
  copies.add(f.folder / "cache/good", "good content", "good content");
  copies.add(f.folder / "cache/bad", "bad CONTENT", "bad content"); // changed since cached
  f.options.local_copies = &copies;
  f.options.link_local_copies = GENERATE(false, true);
  INFO("hard links " << f.options.link_local_copies);

  const DownloadSummary summary = f.download(source);
  REQUIRE(summary.failures.empty());
  CHECK(summary.from_cache == 1);
  CHECK(summary.bytes_saved == 12);
  CHECK(summary.downloaded == 2);
  CHECK(source.whole_requests("good.txt") == 0);
  CHECK(source.whole_requests("bad.txt") == 1);
  CHECK(copies.failures == std::vector<std::string>{f.folder / "cache/bad"});
  CHECK(f.placed("good.txt") == "good content");
  CHECK(f.placed("bad.txt") == "bad content");
  CHECK(f.placed("new.txt") == "new content");
  CHECK(f.err.str().find("cached copy of bad.txt not used (SHA-256 mismatch") != std::string::npos);
}

TEST_CASE("download: a path outside the destination, or another item's part-file name, is "
          "refused",
          "[transfer]") {
  Fixture f;
  MemorySource source;
  source.add("../outside.txt", "escaped");
  source.add("a.txt", "a");
  source.add("a.txt.part", "clobbers a.txt's part file");

  const DownloadSummary summary = f.download(source);
  REQUIRE(summary.failures.size() == 2);
  CHECK(summary.failures[0].path == "../outside.txt");
  CHECK(summary.failures[1].path == "a.txt.part");
  CHECK(source.whole_requests("../outside.txt") == 0);
  CHECK_FALSE(exists(f.folder / "outside.txt"));
  CHECK(f.placed("a.txt") == "a");
  CHECK(f.part_files().empty());
}
