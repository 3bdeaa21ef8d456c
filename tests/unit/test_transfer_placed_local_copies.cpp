// shared/transfer placed_local_copies(): which destination files cleanDestination keeps (hard
// links of their items' local copies), and which of those it records as in place (InPlace),
// so that the download counts them without looking again: only those it would not hash.
#include "shared/hash/sha256.hpp"
#include "shared/transfer/downloader.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using shared::transfer::DownloadOptions;
using shared::transfer::InPlace;
using shared::transfer::LocalCopies;
using shared::transfer::LocalCopy;
using tests::support::TempDir;
using tests::support::write_file;

namespace {

// Local copies by item path, as a cache would find them.
class FakeCopies : public LocalCopies {
public:
  std::map<std::string, LocalCopy> copies;
  bool has(const shared::hash::Digest&) const override { return true; }
  std::optional<LocalCopy> find(const shared::source::Item& item) const override {
    const auto found = copies.find(item.path);
    return found == copies.end() ? std::nullopt : std::optional<LocalCopy>(found->second);
  }
  void failed(const LocalCopy&) override {}
};

LocalCopy copy_at(const std::string& path, bool unchanged) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return {path, unchanged, static_cast<std::uint64_t>(info.st_size), info.st_dev, info.st_ino,
          -1,   {}};
}

shared::source::Item item(const std::string& path, std::optional<std::uint64_t> size) {
  shared::source::Item result;
  result.path = path;
  result.size = size;
  result.sha256 = shared::hash::sha256(path);
  return result;
}

} // namespace

TEST_CASE("placed_local_copies keeps hard links of local copies and records those it would "
          "not hash as in place",
          "[transfer]") {
  TempDir folder;
  write_file(folder / "cache/linked", "abc");
  write_file(folder / "cache/changed", "xyz");
  write_file(folder / "cache/other", "abc");
  REQUIRE(::mkdir((folder / "out").c_str(), 0755) == 0);
  for (const char* name : {"a.txt", "d.txt"}) {
    REQUIRE(::link((folder / "cache/linked").c_str(),
                   (folder / ("out/" + std::string(name))).c_str()) == 0);
  }
  REQUIRE(::link((folder / "cache/changed").c_str(), (folder / "out/b.txt").c_str()) == 0);
  write_file(folder / "out/c.txt", "abc"); // same bytes, a file of its own

  FakeCopies copies;
  copies.copies["a.txt"] = copy_at(folder / "cache/linked", true);
  copies.copies["b.txt"] = copy_at(folder / "cache/changed", false); // changed since cached
  copies.copies["c.txt"] = copy_at(folder / "cache/other", true);
  copies.copies["d.txt"] = copy_at(folder / "cache/linked", true);
  shared::source::Listing listing;
  listing.items = {item("a.txt", 3), item("b.txt", std::nullopt), item("c.txt", 3),
                   item("d.txt", 5)}; // d.txt: the listing says another size
  DownloadOptions options;
  options.patterns = shared::glob::PatternSet({"**"}, {});
  options.local_copies = &copies;
  options.link_local_copies = true;
  const bool hash_every = GENERATE(false, true);
  const bool skip_validation = GENERATE(false, true);
  options.hash_local_copies = hash_every;
  options.skip_validation = skip_validation;
  INFO("hash every copy " << hash_every << ", skip validation " << skip_validation);

  InPlace in_place;
  const auto keep = shared::transfer::placed_local_copies(listing, options, &in_place);
  REQUIRE(keep);
  const int out = ::open((folder / "out").c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(out >= 0);
  // The file's identity from the clean's readdir, or none (the keeper then stats the file).
  const bool from_readdir = GENERATE(false, true);
  INFO("identity from readdir " << from_readdir);
  const auto keeps = [&](const std::string& name) {
    struct stat info {};
    const bool there = ::fstatat(out, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0;
    const shared::transfer::FileId id{static_cast<std::uint64_t>(info.st_dev),
                                      static_cast<std::uint64_t>(info.st_ino)};
    return keep(name, out, name.c_str(), from_readdir && there ? &id : nullptr);
  };
  CHECK(keeps("a.txt"));
  CHECK(keeps("b.txt"));
  CHECK_FALSE(keeps("c.txt")); // not the copy's inode: removed, placed again
  CHECK(keeps("d.txt"));
  CHECK_FALSE(keeps("e.txt")); // not an item
  ::close(out);

  const bool unhashed = skip_validation || !hash_every;
  CHECK(in_place.find("a.txt") == (unhashed ? std::optional<std::uint64_t>(3) : std::nullopt));
  // Changed since cached: hashed when placed, unless validation is skipped.
  CHECK(in_place.find("b.txt").has_value() == skip_validation);
  CHECK_FALSE(in_place.find("c.txt"));
  CHECK_FALSE(in_place.find("d.txt")); // the size check fails when it is placed
}

TEST_CASE("placed_local_copies keeps nothing when copies are not placed by hard link",
          "[transfer]") {
  FakeCopies copies;
  DownloadOptions options;
  options.local_copies = &copies;
  options.link_local_copies = false; // cacheLink: copy
  InPlace in_place;
  CHECK_FALSE(shared::transfer::placed_local_copies({}, options, &in_place));
}
