// shared/fs/folder: a folder's entries, and when readdir's inode numbers may stand for stat's.
#include "shared/fs/descriptor.hpp"
#include "shared/fs/folder.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shared::fs;
using tests::support::TempDir;
using tests::support::write_file;

TEST_CASE("read_folder gives each entry's name, type and inode", "[fs]") {
  TempDir folder;
  write_file(folder / "f/a", "1");
  write_file(folder / "f/b", "2");
  REQUIRE(::mkdir((folder / "f/sub").c_str(), 0755) == 0);
  REQUIRE(::link((folder / "f/a").c_str(), (folder / "f/a-link").c_str()) == 0);
  const Descriptor fd(::open((folder / "f").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd.get() >= 0);
  std::vector<FolderEntry> entries;
  REQUIRE(read_folder(fd.get(), entries));
  REQUIRE(entries.size() == 4); // no "." or ".."
  const bool inodes = readdir_inodes_are_stat_inodes(fd.get());
  for (const auto& entry : entries) {
    INFO(entry.name);
    struct stat info {};
    REQUIRE(::fstatat(fd.get(), entry.name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0);
    if (entry.type != DT_UNKNOWN) {
      CHECK((entry.type == DT_DIR) == S_ISDIR(info.st_mode));
    }
    if (inodes) {
      CHECK(entry.inode == static_cast<std::uint64_t>(info.st_ino));
    }
  }
}

TEST_CASE("readdir's inode numbers are trusted on tmpfs, not on procfs", "[fs]") {
  const Descriptor shm(::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (shm.get() >= 0) { // tmpfs on Linux
    CHECK(readdir_inodes_are_stat_inodes(shm.get()));
  }
  const Descriptor proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(proc.get() >= 0);
  CHECK_FALSE(readdir_inodes_are_stat_inodes(proc.get()));
  CHECK_FALSE(readdir_inodes_are_stat_inodes(-1));
}
