#include "shared/error/error.hpp"
#include "shared/fs/tree_walker.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sys/stat.h>
#include <unistd.h>

using namespace shared::fs;
using namespace tests::support;

namespace {

std::map<std::string, TreeEntry> walk(const std::string& root, bool follow) {
  std::map<std::string, TreeEntry> entries;
  walk_tree(root, {follow}, [&](const TreeEntry& e) { entries[e.path] = e; });
  return entries;
}

} // namespace

TEST_CASE("the walker reports files, folders and special files with '/' paths", "[fs]") {
  TempDir folder;
  write_file(folder / "root/a.txt", "abc");
  write_file(folder / "root/sub/deeper/b.bin", "12345");
  ::mkdir((folder / "root/empty").c_str(), 0755);
  ::mkfifo((folder / "root/fifo").c_str(), 0644);
  ::chmod((folder / "root/a.txt").c_str(), 0750);
  const auto entries = walk(folder / "root", false);
  CHECK(entries.size() == 6);
  CHECK(entries.at("a.txt").kind == EntryKind::file);
  CHECK(entries.at("a.txt").size == 3);
  CHECK(entries.at("a.txt").mode == 0750);
  CHECK(entries.at("sub/deeper/b.bin").size == 5);
  CHECK(entries.at("sub").kind == EntryKind::folder);
  CHECK(entries.at("empty").kind == EntryKind::folder);
  CHECK(entries.at("fifo").kind == EntryKind::other);
}

TEST_CASE("symlinks are reported, and followed only inside the root", "[fs]") {
  TempDir folder;
  write_file(folder / "outside/secret", "secret");
  write_file(folder / "root/real/file", "data");
  REQUIRE(::symlink("real/file", (folder / "root/link-in").c_str()) == 0);
  REQUIRE(::symlink("real", (folder / "root/folder-in").c_str()) == 0);
  REQUIRE(::symlink("../outside/secret", (folder / "root/link-out").c_str()) == 0);
  REQUIRE(::symlink((folder / "outside").c_str(), (folder / "root/folder-out").c_str()) == 0);
  REQUIRE(::symlink("missing", (folder / "root/dangling").c_str()) == 0);
  REQUIRE(::symlink("..", (folder / "root/real/loop").c_str()) == 0);

  SECTION("not following") {
    const auto entries = walk(folder / "root", false);
    CHECK(entries.at("link-in").kind == EntryKind::symlink);
    CHECK(entries.at("link-in").link_status == LinkStatus::not_followed);
    CHECK(entries.at("link-in").link_target == "real/file");
    CHECK(entries.count("folder-in/file") == 0);
  }
  SECTION("following") {
    const auto entries = walk(folder / "root", true);
    CHECK(entries.at("link-in").kind == EntryKind::file);
    CHECK(entries.at("link-in").via_link);
    CHECK(entries.at("link-in").size == 4);
    CHECK(entries.at("folder-in/file").kind == EntryKind::file);
    CHECK(entries.at("link-out").link_status == LinkStatus::outside_root);
    CHECK(entries.at("folder-out").link_status == LinkStatus::outside_root);
    CHECK(entries.count("folder-out/secret") == 0);
    CHECK(entries.at("dangling").link_status == LinkStatus::dangling);
    CHECK(entries.at("real/loop").link_status == LinkStatus::loop);
    CHECK(entries.at("folder-in/loop").link_status == LinkStatus::loop);
  }
}

TEST_CASE("a missing root is an I/O error naming it", "[fs]") {
  CHECK_THROWS_AS(walk("/nonexistent/root", false), shared::error::IoError);
}
