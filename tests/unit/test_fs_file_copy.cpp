#include "shared/error/error.hpp"
#include "shared/fs/file_copy.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shared::fs;
using tests::support::TempDir;

namespace {

ino_t inode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_ino;
}

} // namespace

TEST_CASE("FilePlacer copies, or links when allowed, through a part file", "[fs]") {
  TempDir folder;
  tests::support::write_file(folder / "from", std::string(300000, 'x'));
  tests::support::write_file(folder / "to", "old content");

  const Placed copy = FilePlacer(false).place(folder / "from", AT_FDCWD, folder / "to");
  CHECK(copy.bytes == 300000u);
  CHECK(copy.method != CopyMethod::hard_link);
  CHECK(tests::support::read_file(folder / "to") == std::string(300000, 'x'));
  CHECK(inode_of(folder / "to") != inode_of(folder / "from"));
  CHECK_FALSE(tests::support::exists(folder / "to.part"));

  FilePlacer linker(true);
  const Placed link = linker.place(folder / "from", AT_FDCWD, folder / "linked");
  if (link.method == CopyMethod::hard_link) {
    CHECK(inode_of(folder / "linked") == inode_of(folder / "from"));
    // Again onto the same file: rename(2) leaves both names; the part file must still go.
    CHECK(linker.place(folder / "from", AT_FDCWD, folder / "linked").method ==
          CopyMethod::hard_link);
  }
  CHECK_FALSE(tests::support::exists(folder / "linked.part"));
  CHECK(tests::support::read_file(folder / "linked") == std::string(300000, 'x'));
}

TEST_CASE("FilePlacer refuses what is not a regular file and leaves no part file", "[fs]") {
  TempDir folder;
  tests::support::write_file(folder / "real", "r");
  REQUIRE(::symlink((folder / "real").c_str(), (folder / "link").c_str()) == 0);
  CHECK_THROWS_AS(FilePlacer(true).place(folder / "link", AT_FDCWD, folder / "to"),
                  shared::error::IoError);
  CHECK_THROWS_AS(FilePlacer(false).place(folder / "missing", AT_FDCWD, folder / "to"),
                  shared::error::IoError);
  CHECK_THROWS_AS(FilePlacer(false).place(folder.path(), AT_FDCWD, folder / "to"),
                  shared::error::IoError);
  CHECK_FALSE(tests::support::exists(folder / "to"));
  CHECK_FALSE(tests::support::exists(folder / "to.part"));
}

TEST_CASE("FilePlacer reaches the source through from_folder and from_name when given, and names "
          "`from` in errors",
          "[fs]") {
  TempDir folder;
  tests::support::write_file(folder / "objects/abc", "content");
  const int objects = ::open((folder / "objects").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(objects >= 0);
  // `from` is only what errors say: the calls go through the folder.
  const std::string shown = folder / "elsewhere/abc";
  PlaceHints hints;
  hints.from_folder = objects;
  hints.from_name = "abc";
  const bool link = GENERATE(false, true);
  const Placed placed = FilePlacer(link).place(shown, AT_FDCWD, folder / "to", hints);
  CHECK(placed.bytes == 7u);
  CHECK(tests::support::read_file(folder / "to") == "content");
  if (placed.method == CopyMethod::hard_link) {
    CHECK(inode_of(folder / "to") == inode_of(folder / "objects/abc"));
  }
  hints.from_name = "missing";
  try {
    FilePlacer(link).place(shown, AT_FDCWD, folder / "to2", hints);
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find(shown) != std::string::npos);
  }
  CHECK_FALSE(tests::support::exists(folder / "to2"));
  ::close(objects);
}
