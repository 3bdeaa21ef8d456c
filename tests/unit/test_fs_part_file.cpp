#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

using shared::fs::PartFile;
using namespace tests::support;

TEST_CASE("a part file appears under its final name only when committed", "[fs]") {
  TempDir dir;
  const std::string target = dir / "out.csv";
  {
    PartFile part(target);
    part.write("hello ");
    part.write("world");
    CHECK(exists(target + ".part"));
    CHECK_FALSE(exists(target));
    part.commit();
  }
  CHECK(read_file(target) == "hello world");
  CHECK_FALSE(exists(target + ".part"));
}

TEST_CASE("an uncommitted part file is removed and the old file is untouched", "[fs]") {
  TempDir dir;
  const std::string target = dir / "out.csv";
  write_file(target, "old");
  write_file(target + ".part", "leftover from a crash");
  {
    PartFile part(target);
    part.write("new but unfinished");
  }
  CHECK(read_file(target) == "old");
  CHECK_FALSE(exists(target + ".part"));
}

TEST_CASE("a part file in a missing folder fails with the path", "[fs]") {
  TempDir dir;
  try {
    PartFile part(dir / "missing/out.csv");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("missing/out.csv.part") != std::string::npos);
  }
}

TEST_CASE("create_part replaces a leftover hard link or symlink instead of writing through it",
          "[fs]") {
  TempDir dir;
  const std::string keep = dir / "cached-object"; // what a leftover may be a name of
  write_file(keep, "keep me");
  const std::string part = dir / "item.part";
  SECTION("hard link") {
    REQUIRE(::link(keep.c_str(), part.c_str()) == 0);
  }
  SECTION("symlink") {
    REQUIRE(::symlink(keep.c_str(), part.c_str()) == 0);
  }
  SECTION("through PartFile") {
    REQUIRE(::link(keep.c_str(), part.c_str()) == 0);
    PartFile file(dir / "item");
    file.write("new");
    file.commit();
    CHECK(read_file(dir / "item") == "new");
    CHECK(read_file(keep) == "keep me");
    return;
  }
  const int fd = shared::fs::create_part(AT_FDCWD, part, "item.part");
  REQUIRE(fd >= 0);
  CHECK(::write(fd, "new", 3) == 3);
  ::close(fd);
  CHECK(read_file(part) == "new");
  CHECK(read_file(keep) == "keep me");
}

TEST_CASE("create_part names what it could not create", "[fs]") {
  TempDir dir;
  try {
    shared::fs::create_part(AT_FDCWD, dir / "missing/x.part", "shown/x.part");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("cannot create shown/x.part") != std::string::npos);
  }
}
