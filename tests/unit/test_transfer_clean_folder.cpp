// shared/transfer clean_folder(): what stays, and the identity it hands the keeper: from
// readdir on a filesystem whose inode numbers are stat's (tmpfs here), else none.
#include "shared/transfer/clean_folder.hpp"
#include "tests/support/skip.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <sys/stat.h>

using shared::transfer::FileId;
using tests::support::TempDir;
using tests::support::write_file;

namespace {

FileId id_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return {static_cast<std::uint64_t>(info.st_dev), static_cast<std::uint64_t>(info.st_ino)};
}

} // namespace

TEST_CASE("clean_folder keeps what the keeper keeps and tells it each file's identity",
          "[transfer]") {
  if (!std::filesystem::is_directory("/dev/shm")) {
    SKIP_TEST("no /dev/shm here");
  }
  const TempDir shm("/dev/shm"); // tmpfs
  const std::string root = shm / "root";
  for (const char* path : {"a", "b", "sub/c", "sub/d", "gone/e"}) {
    write_file(root + "/" + path, path);
  }
  const std::map<std::string, FileId> before = {{"a", id_of(root + "/a")},
                                                {"b", id_of(root + "/b")},
                                                {"sub/c", id_of(root + "/sub/c")},
                                                {"sub/d", id_of(root + "/sub/d")},
                                                {"gone/e", id_of(root + "/gone/e")}};
  std::mutex mutex; // the top-level entries are shared by a few threads
  std::map<std::string, std::optional<FileId>> told;
  shared::transfer::clean_folder(
      root, [&](const std::string& path, int, const char*, const FileId* id) {
        std::lock_guard<std::mutex> lock(mutex);
        told[path] = id != nullptr ? std::optional<FileId>(*id) : std::nullopt;
        return path == "a" || path == "sub/c";
      });
  CHECK(std::filesystem::exists(root + "/a"));
  CHECK(std::filesystem::exists(root + "/sub/c"));
  CHECK_FALSE(std::filesystem::exists(root + "/b"));
  CHECK_FALSE(std::filesystem::exists(root + "/sub/d"));
  CHECK_FALSE(std::filesystem::exists(root + "/gone")); // emptied folders go too
  REQUIRE(told.size() == before.size());
  for (const auto& [path, id] : before) {
    INFO(path);
    REQUIRE(told[path].has_value()); // tmpfs: readdir's inode numbers are stat's
    CHECK(told[path]->device == id.device);
    CHECK(told[path]->inode == id.inode);
  }
}
