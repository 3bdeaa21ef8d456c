#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

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
