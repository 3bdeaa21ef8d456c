// shared/transfer download(): DownloadSummary::checked, the fingerprint of each file the run
// placed and checked (what the cache update later takes only while it is unchanged), from a
// folder source: whole files, a file in segments, and local copies hashed or not.
#include "shared/fs/fingerprint.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/source/file_source.hpp"
#include "shared/transfer/downloader.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using shared::fs::Fingerprint;
using shared::transfer::LocalCopy;
using tests::support::TempDir;
using tests::support::write_file;

namespace {

// One local copy for every item whose content it was given, changed or not since cached.
class Copies : public shared::transfer::LocalCopies {
public:
  std::map<shared::hash::Digest, LocalCopy> copies;
  bool has(const shared::hash::Digest& sha256) const override { return copies.count(sha256); }
  std::optional<LocalCopy> find(const shared::source::Item& item) const override {
    const auto found = copies.find(*item.sha256);
    return found == copies.end() ? std::nullopt : std::optional<LocalCopy>(found->second);
  }
  void failed(const LocalCopy&) override {}
  void add(const std::string& path, const std::string& content, bool unchanged) {
    write_file(path, content);
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    copies[shared::hash::sha256(content)] = {path,
                                             unchanged,
                                             static_cast<std::uint64_t>(info.st_size),
                                             static_cast<std::uint64_t>(info.st_dev),
                                             static_cast<std::uint64_t>(info.st_ino),
                                             -1,
                                             {}};
  }
};

// A download from the folder source `folder`/source into `folder`/out, with `copies`.
struct Run {
  Run(const TempDir& folder, Copies& copies, unsigned parallel)
      : logger(shared::log::Dialect::plain, out, err), source(folder / "source", logger) {
    options.destination = folder / "out";
    options.patterns = shared::glob::PatternSet({"**"}, {});
    options.parallel = parallel;
    options.local_copies = &copies;
  }
  shared::transfer::DownloadSummary download(const shared::source::Listing& listing) {
    return shared::transfer::download(source, listing, options, logger);
  }
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger;
  shared::source::FileSource source;
  shared::transfer::DownloadOptions options;
};

} // namespace

TEST_CASE("the download records the fingerprint of each file it checked, once complete",
          "[transfer]") {
  TempDir folder;
  const std::string big(3u << 20, 'b'); // in segments of 1 MiB
  const std::map<std::string, std::string> files = {{"small.txt", "small"},
                                                    {"sub/big.bin", big},
                                                    {"hashed.txt", "hashed"},
                                                    {"trusted.txt", "trusted"}};
  shared::source::Listing listing;
  for (const auto& [path, content] : files) {
    write_file(folder / ("source/" + path), content);
    listing.items.push_back({path, content.size(), shared::hash::sha256(content),
                             folder / ("source/" + path), false, nullptr});
  }
  Copies copies;
  copies.add(folder / "cache/hashed", "hashed", false);  // changed since cached: hashed
  copies.add(folder / "cache/trusted", "trusted", true); // unchanged: placed unread
  Run run(folder, copies, 4);
  shared::transfer::DownloadOptions& options = run.options;
  options.min_segment_size = 1u << 20;
  options.link_local_copies = GENERATE(false, true);
  options.skip_validation = GENERATE(false, true);
  INFO("hard links " << options.link_local_copies << ", skip validation "
                     << options.skip_validation);

  const auto summary = run.download(listing);
  REQUIRE(summary.failures.empty());
  REQUIRE(summary.checked.size() == listing.items.size());
  for (std::size_t i = 0; i < listing.items.size(); ++i) {
    const std::string& path = listing.items[i].path;
    INFO(path);
    const bool checked = !options.skip_validation && path != "trusted.txt";
    REQUIRE(summary.checked[i].has_value() == checked);
    if (checked) {
      CHECK(summary.checked[i] == Fingerprint::of(folder / ("out/" + path)));
    }
  }
}

TEST_CASE("a local copy written between its hash and its placing is placed but not recorded "
          "as checked",
          "[transfer]") {
  TempDir folder;
  const std::string content = "the same bytes, written again";
  Copies copies;
  copies.add(folder / "cache/copy", content, false); // changed since cached: hashed when placed
  shared::source::Listing listing;
  listing.items.push_back({"copied.txt", content.size(), shared::hash::sha256(content),
                           folder / "source/copied.txt", false, nullptr});
  Run run(folder, copies, 1);
  shared::transfer::DownloadOptions& options = run.options;
  options.link_local_copies = GENERATE(false, true);
  INFO("hard links " << options.link_local_copies);
  // Polled while the copy is hashed (the only reading in this run): another step of the job
  // writes the copy again, with the same bytes, so the hash still matches.
  bool wrote = false;
  options.cancelled = [&] {
    if (!wrote) {
      wrote = true;
      ::usleep(20'000); // a modification time the copy's first look cannot have
      write_file(folder / "cache/copy", content);
    }
    return false;
  };

  const auto summary = run.download(listing);
  REQUIRE(wrote);
  REQUIRE(summary.failures.empty());
  CHECK(summary.from_cache == 1);
  CHECK(tests::support::read_file(folder / "out/copied.txt") == content);
  REQUIRE(summary.checked.size() == 1);
  CHECK_FALSE(summary.checked[0].has_value()); // what was placed may not be what was hashed
}
