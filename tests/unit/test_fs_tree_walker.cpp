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
  TempDir dir;
  write_file(dir / "root/a.txt", "abc");
  write_file(dir / "root/sub/deeper/b.bin", "12345");
  ::mkdir((dir / "root/empty").c_str(), 0755);
  ::mkfifo((dir / "root/fifo").c_str(), 0644);
  ::chmod((dir / "root/a.txt").c_str(), 0750);
  const auto entries = walk(dir / "root", false);
  CHECK(entries.size() == 6);
  CHECK(entries.at("a.txt").kind == EntryKind::file);
  CHECK(entries.at("a.txt").size == 3);
  CHECK(entries.at("a.txt").mode == 0750);
  CHECK(entries.at("sub/deeper/b.bin").size == 5);
  CHECK(entries.at("sub").kind == EntryKind::directory);
  CHECK(entries.at("empty").kind == EntryKind::directory);
  CHECK(entries.at("fifo").kind == EntryKind::other);
}

TEST_CASE("symlinks are reported, and followed only inside the root", "[fs]") {
  TempDir dir;
  write_file(dir / "outside/secret", "secret");
  write_file(dir / "root/real/file", "data");
  REQUIRE(::symlink("real/file", (dir / "root/link-in").c_str()) == 0);
  REQUIRE(::symlink("real", (dir / "root/dir-in").c_str()) == 0);
  REQUIRE(::symlink("../outside/secret", (dir / "root/link-out").c_str()) == 0);
  REQUIRE(::symlink((dir / "outside").c_str(), (dir / "root/dir-out").c_str()) == 0);
  REQUIRE(::symlink("missing", (dir / "root/dangling").c_str()) == 0);
  REQUIRE(::symlink("..", (dir / "root/real/loop").c_str()) == 0);

  SECTION("not following") {
    const auto entries = walk(dir / "root", false);
    CHECK(entries.at("link-in").kind == EntryKind::symlink);
    CHECK(entries.at("link-in").link_status == LinkStatus::not_followed);
    CHECK(entries.at("link-in").link_target == "real/file");
    CHECK(entries.count("dir-in/file") == 0);
  }
  SECTION("following") {
    const auto entries = walk(dir / "root", true);
    CHECK(entries.at("link-in").kind == EntryKind::file);
    CHECK(entries.at("link-in").via_link);
    CHECK(entries.at("link-in").size == 4);
    CHECK(entries.at("dir-in/file").kind == EntryKind::file);
    CHECK(entries.at("link-out").link_status == LinkStatus::outside_root);
    CHECK(entries.at("dir-out").link_status == LinkStatus::outside_root);
    CHECK(entries.count("dir-out/secret") == 0);
    CHECK(entries.at("dangling").link_status == LinkStatus::dangling);
    CHECK(entries.at("real/loop").link_status == LinkStatus::loop);
    CHECK(entries.at("dir-in/loop").link_status == LinkStatus::loop);
  }
}

TEST_CASE("a missing root is an I/O error naming it", "[fs]") {
  CHECK_THROWS_AS(walk("/nonexistent/root", false), shared::error::IoError);
}
