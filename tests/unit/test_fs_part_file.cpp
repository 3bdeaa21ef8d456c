#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/part_file.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

using shared::fs::PartFile;
using namespace tests::support;

TEST_CASE("a part file appears under its final name only when committed", "[fs]") {
  TempDir folder;
  const std::string target = folder / "out.csv";
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
  TempDir folder;
  const std::string target = folder / "out.csv";
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
  TempDir folder;
  try {
    PartFile part(folder / "missing/out.csv");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("missing/out.csv.part") != std::string::npos);
  }
}

TEST_CASE("create_part replaces a leftover hard link or symlink instead of writing through it",
          "[fs]") {
  TempDir folder;
  const std::string keep = folder / "cached-object"; // what a leftover may be a name of
  write_file(keep, "keep me");
  const std::string part = folder / "item.part";
  SECTION("hard link") {
    REQUIRE(::link(keep.c_str(), part.c_str()) == 0);
  }
  SECTION("symlink") {
    REQUIRE(::symlink(keep.c_str(), part.c_str()) == 0);
  }
  SECTION("through PartFile") {
    REQUIRE(::link(keep.c_str(), part.c_str()) == 0);
    PartFile file(folder / "item");
    file.write("new");
    file.commit();
    CHECK(read_file(folder / "item") == "new");
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
  TempDir folder;
  try {
    shared::fs::create_part(AT_FDCWD, folder / "missing/x.part", "shown/x.part");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("cannot create shown/x.part") != std::string::npos);
  }
}

TEST_CASE("a part file in a folder: its name, pwrite through its descriptor, the rename", "[fs]") {
  const auto durability = GENERATE(shared::fs::Durability::none, shared::fs::Durability::flush);
  TempDir folder;
  write_file(folder / "sub/out.bin", "old");
  const shared::fs::Descriptor folder_fd(::open((folder / "sub").c_str(), O_RDONLY | O_DIRECTORY));
  REQUIRE(folder_fd.valid());
  {
    PartFile part(folder_fd.get(), "out.bin", "shown/out.bin", durability);
    CHECK(part.part_path() == "shown/out.bin.part");
    CHECK(part.final_path() == "shown/out.bin");
    CHECK(exists(folder / "sub/out.bin.part"));
    REQUIRE(::pwrite(part.descriptor(), "world", 5, 6) == 5);
    REQUIRE(::pwrite(part.descriptor(), "hello ", 6, 0) == 6);
    CHECK(read_file(folder / "sub/out.bin") == "old"); // the final name untouched until commit
    part.commit();
    CHECK(part.descriptor() == -1);
    CHECK_THROWS_AS(part.commit(), shared::error::IoError);
  }
  CHECK(read_file(folder / "sub/out.bin") == "hello world");
  CHECK_FALSE(exists(folder / "sub/out.bin.part"));
}

TEST_CASE("a part file in a folder is deleted when not committed, named as shown on errors",
          "[fs]") {
  TempDir folder;
  const shared::fs::Descriptor folder_fd(::open(folder.path().c_str(), O_RDONLY | O_DIRECTORY));
  {
    PartFile part(folder_fd.get(), "out.bin", "out.bin", shared::fs::Durability::none);
    part.write("unfinished");
    CHECK(exists(folder / "out.bin.part"));
  }
  CHECK_FALSE(exists(folder / "out.bin.part"));
  CHECK_FALSE(exists(folder / "out.bin"));
  {
    PartFile part(folder_fd.get(), "discarded", "discarded");
    part.discard();
    CHECK_FALSE(exists(folder / "discarded.part"));
    CHECK_THROWS_AS(part.commit(), shared::error::IoError);
  }
  try {
    PartFile part(folder_fd.get(), "missing/x", "shown/x");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("cannot create shown/x.part") != std::string::npos);
  }
}

TEST_CASE("a reader never sees a partial file under the final name", "[fs]") {
  TempDir folder;
  const std::string target = folder / "out.txt";
  const std::string chunk(4096, 'x');
  constexpr int k_chunks = 64;
  write_file(target, "old");
  std::atomic<bool> done{false};
  std::atomic<int> partial{0};
  std::thread reader([&] {
    while (!done.load()) {
      const std::string seen = read_file(target);
      if (seen != "old" && seen.size() != chunk.size() * k_chunks) {
        ++partial;
      }
    }
  });
  for (int round = 0; round < 20; ++round) {
    PartFile part(target, shared::fs::Durability::none);
    for (int k = 0; k < k_chunks; ++k) {
      part.write(chunk);
    }
    part.commit();
  }
  done = true;
  reader.join();
  CHECK(partial.load() == 0);
  CHECK(read_file(target).size() == chunk.size() * k_chunks);
}

TEST_CASE("a part file named by a path beneath its folder is written next to the final name",
          "[fs]") {
  TempDir folder;
  write_file(folder / "sub/keep", "");
  const shared::fs::Descriptor folder_fd(::open(folder.path().c_str(), O_RDONLY | O_DIRECTORY));
  PartFile part(folder_fd.get(), "sub/out", "sub/out");
  CHECK(exists(folder / "sub/out.part"));
  part.write("done");
  part.commit();
  CHECK(read_file(folder / "sub/out") == "done");
  CHECK_FALSE(exists(folder / "sub/out.part"));
}
