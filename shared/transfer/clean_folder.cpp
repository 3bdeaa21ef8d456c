#include "shared/transfer/clean_folder.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/folder.hpp"
#include "shared/parallel/for_each_index.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace shared::transfer {
namespace {

// Cleans the folders of one run of clean_folder(); remembers the first failure.
class Cleaner {
public:
  // `inodes`: readdir's inode numbers are stat's (fs::readdir_inodes_are_stat_inodes).
  Cleaner(const KeepFile& keep, bool inodes) : m_keep(keep), m_inodes(inodes) {}

  // Removes `entry` of the folder open as `dir_fd` (at `path` relative to the cleaned folder;
  // the folder's st_dev is `device`), but what may stay. Returns whether something stayed.
  bool clean(int dir_fd, std::uint64_t device, const std::string& path,
             const fs::FolderEntry& entry) {
    unsigned char type = entry.type;
    if (type == DT_UNKNOWN) {
      struct stat info {};
      if (::fstatat(dir_fd, entry.name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        return fail(path, errno);
      }
      type = S_ISDIR(info.st_mode) ? DT_DIR : S_ISREG(info.st_mode) ? DT_REG : DT_LNK;
    }
    if (type == DT_DIR) {
      const fs::Descriptor fd(
          ::openat(dir_fd, entry.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      std::vector<fs::FolderEntry> entries;
      struct stat info {};
      if (fd.get() < 0 || !fs::read_folder(fd.get(), entries) || ::fstat(fd.get(), &info) != 0) {
        return fail(path, errno);
      }
      bool kept = false;
      for (const fs::FolderEntry& inner : entries) {
        kept = clean(fd.get(), static_cast<std::uint64_t>(info.st_dev), path + "/" + inner.name,
                     inner) ||
               kept;
      }
      if (kept) {
        return true;
      }
      return ::unlinkat(dir_fd, entry.name.c_str(), AT_REMOVEDIR) != 0 && fail(path, errno);
    }
    if (type == DT_REG && m_keep) {
      // A regular file is on its folder's filesystem (a file bind-mounted over another aside).
      const FileId id{device, entry.inode};
      if (m_keep(path, dir_fd, entry.name.c_str(), m_inodes ? &id : nullptr)) {
        return true;
      }
    }
    return ::unlinkat(dir_fd, entry.name.c_str(), 0) != 0 && fail(path, errno);
  }

  const std::string& failure() const { return m_failure; }

private:
  // Records the first failure; returns true (something stayed).
  bool fail(const std::string& path, int error) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_failure.empty()) {
      m_failure = error::system_message("cannot clean " + path, error);
    }
    return true;
  }

  const KeepFile& m_keep;
  bool m_inodes;
  std::mutex m_mutex;
  std::string m_failure;
};

} // namespace

void clean_folder(const std::string& folder, const KeepFile& keep) {
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(folder, ec);
  if (ec) {
    return; // nothing to clean
  }
  if (canonical == canonical.root_path()) {
    throw error::UsageError("--clean-destination: refusing to clean " + canonical.string());
  }
  const fs::Descriptor root(
      ::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  std::vector<fs::FolderEntry> entries;
  struct stat info {};
  if (root.get() < 0 || !fs::read_folder(root.get(), entries) || ::fstat(root.get(), &info) != 0) {
    throw error::IoError(error::system_message("cannot clean " + folder, errno));
  }
  // The entries are shared by a few threads: unlinking is most of a large tree's clean, and
  // the folders of an artifact do not share a directory lock.
  Cleaner cleaner(keep, fs::readdir_inodes_are_stat_inodes(root.get()));
  parallel::for_each_index(entries.size(), parallel::helpers_for(entries.size(), 2),
                           [&](std::size_t k) {
                             cleaner.clean(root.get(), static_cast<std::uint64_t>(info.st_dev),
                                           entries[k].name, entries[k]);
                           });
  if (!cleaner.failure().empty()) {
    throw error::IoError(cleaner.failure());
  }
}

} // namespace shared::transfer
