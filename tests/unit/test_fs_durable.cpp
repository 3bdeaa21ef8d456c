#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/durable.hpp"
#include "tests/support/skip.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <linux/magic.h>
#include <sys/statfs.h>

using namespace shared::fs;
using namespace tests::support;

TEST_CASE("sync_method: nothing to do in memory, whatever the count; else by the count", "[fs]") {
  for (const std::string& path :
       {std::filesystem::current_path().string(), std::string("/tmp"), std::string("/dev/shm")}) {
    INFO(path);
    const Descriptor folder_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!folder_fd.valid()) {
      continue; // e.g. no /dev/shm here
    }
    struct statfs info {};
    REQUIRE(::fstatfs(folder_fd.get(), &info) == 0);
    const bool in_memory = info.f_type == TMPFS_MAGIC || info.f_type == RAMFS_MAGIC;
    CHECK(sync_method(folder_fd.get(), 0) == SyncMethod::none);
    CHECK(sync_method(folder_fd.get(), 1) == (in_memory ? SyncMethod::none : SyncMethod::each));
    CHECK(sync_method(folder_fd.get(), 5, 4) ==
          (in_memory ? SyncMethod::none : SyncMethod::filesystem));
  }
}

TEST_CASE("sync_files syncs each file up to each_max, else the whole filesystem", "[fs]") {
  // On the working directory's filesystem (the build tree: on disk, where TMPDIR may be in
  // memory).
  const TempDir folder(std::filesystem::current_path().string());
  const Descriptor folder_fd(::open(folder.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(folder_fd.get() >= 0);
  if (sync_method(folder_fd.get(), 1) == SyncMethod::none) {
    SKIP_TEST("the working directory is in memory: no disk folder to check");
  }
  CHECK(sync_method(folder_fd.get(), 0) == SyncMethod::none);
  CHECK(sync_method(folder_fd.get(), 3, 3) == SyncMethod::each);
  CHECK(sync_method(folder_fd.get(), 4, 3) == SyncMethod::filesystem);
  CHECK(sync_method(folder_fd.get(), k_sync_each_max) == SyncMethod::each);
  CHECK(sync_method(folder_fd.get(), k_sync_each_max + 1) == SyncMethod::filesystem);

  std::vector<std::string> paths;
  for (int i = 0; i < 40; ++i) { // enough for helper threads
    paths.push_back(folder.path() + "/file-" + std::to_string(i));
    write_file(paths.back(), "content " + std::to_string(i));
  }
  CHECK_NOTHROW(sync_files(folder_fd.get(), paths));
  CHECK_NOTHROW(sync_files(folder_fd.get(), paths, 10)); // syncfs

  // Each file is opened: one that is gone fails, naming it. syncfs looks at no file.
  paths.push_back(folder.path() + "/gone");
  try {
    sync_files(folder_fd.get(), paths);
    FAIL("a missing file was not noticed");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("cannot sync " + folder.path() + "/gone") !=
          std::string::npos);
  }
  CHECK_NOTHROW(sync_files(folder_fd.get(), paths, 10));
}

TEST_CASE("sync_files does nothing on a filesystem in memory", "[fs]") {
  if (!std::filesystem::is_directory("/dev/shm")) {
    SKIP_TEST("no /dev/shm here");
  }
  const Descriptor folder_fd(::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(folder_fd.get() >= 0);
  if (sync_method(folder_fd.get(), 1) != SyncMethod::none) {
    SKIP_TEST("/dev/shm is not tmpfs here");
  }
  CHECK(sync_method(folder_fd.get(), k_sync_each_max + 1) == SyncMethod::none);
  CHECK_NOTHROW(sync_files(folder_fd.get(), {"/dev/shm/no-such-file-of-ours"}));
}
