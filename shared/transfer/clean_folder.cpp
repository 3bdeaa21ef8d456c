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
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace shared::transfer {
namespace {

// A folder being cleaned: its descriptor, and (when files may stay) its st_dev and whether
// its filesystem's readdir inode numbers are stat's (fs::readdir_inodes_are_stat_inodes).
struct Folder {
  int fd = -1;
  std::uint64_t device = 0;
  bool inodes = false;
};

// Cleans the folders of one run of clean_folder(); remembers the first failure.
class Cleaner {
public:
  explicit Cleaner(const KeepFile& keep) : m_keep(keep) {}

  // Describes the folder open as `fd`, inside `parent` (null for the cleaned folder itself);
  // false, with errno set, when it cannot be looked at.
  bool describe(int fd, Folder& folder, const Folder* parent = nullptr) const {
    folder.fd = fd;
    if (!m_keep) {
      return true;
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      return false;
    }
    folder.device = static_cast<std::uint64_t>(info.st_dev);
    // Another filesystem mounted here may not be one whose inode numbers readdir tells.
    folder.inodes = parent != nullptr && parent->device == folder.device
                        ? parent->inodes
                        : fs::readdir_inodes_are_stat_inodes(fd);
    return true;
  }

  // Removes `entry` of `folder` (at `path` relative to the cleaned folder), but what may stay.
  // Returns whether something stayed.
  bool clean(const Folder& folder, const std::string& path, const fs::FolderEntry& entry) {
    unsigned char type = entry.type;
    std::optional<FileId> id; // which file it is, where known without a stat of our own
    if (type == DT_UNKNOWN) {
      struct stat info {};
      if (::fstatat(folder.fd, entry.name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        return fail(path, errno);
      }
      type = S_ISDIR(info.st_mode) ? DT_DIR : S_ISREG(info.st_mode) ? DT_REG : DT_LNK;
      id = FileId{static_cast<std::uint64_t>(info.st_dev), static_cast<std::uint64_t>(info.st_ino)};
    } else if (folder.inodes) {
      // A regular file is on its folder's filesystem (a file bind-mounted over another aside).
      id = FileId{folder.device, entry.inode};
    }
    if (type == DT_DIR) {
      const fs::Descriptor fd(
          ::openat(folder.fd, entry.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      std::vector<fs::FolderEntry> entries;
      Folder inner;
      if (fd.get() < 0 || !fs::read_folder(fd.get(), entries) ||
          !describe(fd.get(), inner, &folder)) {
        return fail(path, errno);
      }
      bool kept = false;
      for (const fs::FolderEntry& child : entries) {
        kept = clean(inner, path + "/" + child.name, child) || kept;
      }
      if (kept) {
        return true;
      }
      return ::unlinkat(folder.fd, entry.name.c_str(), AT_REMOVEDIR) != 0 && fail(path, errno);
    }
    if (type == DT_REG && m_keep &&
        m_keep(path, folder.fd, entry.name.c_str(), id ? &*id : nullptr)) {
      return true;
    }
    return ::unlinkat(folder.fd, entry.name.c_str(), 0) != 0 && fail(path, errno);
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
  Cleaner cleaner(keep);
  std::vector<fs::FolderEntry> entries;
  Folder top;
  if (root.get() < 0 || !fs::read_folder(root.get(), entries) ||
      !cleaner.describe(root.get(), top)) {
    throw error::IoError(error::system_message("cannot clean " + folder, errno));
  }
  // The entries are shared by a few threads: unlinking is most of a large tree's clean, and
  // the folders of an artifact do not share a folder lock.
  parallel::for_each_index(entries.size(), parallel::helpers_for(entries.size(), 2),
                           [&](std::size_t k) { cleaner.clean(top, entries[k].name, entries[k]); });
  if (!cleaner.failure().empty()) {
    throw error::IoError(cleaner.failure());
  }
}

} // namespace shared::transfer
