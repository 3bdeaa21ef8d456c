#include "shared/fs/tree_walker.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace shared::fs {
namespace {

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId& other) const { return dev == other.dev && ino == other.ino; }
};

// A folder still to read: its path relative to the root and the folders above it, to
// recognise a followed link that leads back into one of them.
struct PendingFolder {
  std::string path;
  std::vector<FileId> ancestors;
};

std::string join(const std::string& base, const std::string& name) {
  return base.empty() ? name : base + "/" + name;
}

std::string canonical(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) {
    return {};
  }
  std::string result(resolved);
  std::free(resolved);
  return result;
}

bool is_inside(const std::string& path, const std::string& root) {
  if (root == "/") {
    return true;
  }
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

void fill_from_stat(TreeEntry& entry, const struct stat& st) {
  entry.size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  entry.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  entry.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  entry.device = static_cast<std::uint64_t>(st.st_dev);
  entry.inode = static_cast<std::uint64_t>(st.st_ino);
  if (S_ISREG(st.st_mode)) {
    entry.kind = EntryKind::file;
  } else if (S_ISDIR(st.st_mode)) {
    entry.kind = EntryKind::folder;
  } else if (S_ISLNK(st.st_mode)) {
    entry.kind = EntryKind::symlink;
  } else {
    entry.kind = EntryKind::other;
  }
}

std::string read_link(int folder_fd, const char* name) {
  std::string target(PATH_MAX, '\0');
  const ssize_t n = ::readlinkat(folder_fd, name, target.data(), target.size());
  target.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return target;
}

class Walker {
public:
  Walker(const std::string& root, const WalkOptions& options,
         const std::function<void(const TreeEntry&)>& visit)
      : m_root(root), m_options(options), m_visit(visit) {
    if (m_options.follow_symlinks) {
      m_canonical_root = canonical(root);
      if (m_canonical_root.empty()) {
        throw error::IoError(error::system_message("cannot resolve " + root, errno));
      }
    }
  }

  void run() {
    struct stat st {};
    if (::stat(m_root.c_str(), &st) != 0) {
      throw error::IoError(error::system_message("cannot read " + m_root, errno));
    }
    std::vector<PendingFolder> stack;
    stack.push_back({"", {FileId{st.st_dev, st.st_ino}}});
    while (!stack.empty()) {
      PendingFolder folder = std::move(stack.back());
      stack.pop_back();
      read_folder(folder, stack);
    }
  }

private:
  std::string absolute(const std::string& relative) const {
    return relative.empty() ? m_root : m_root + "/" + relative;
  }

  void read_folder(const PendingFolder& folder, std::vector<PendingFolder>& stack) {
    const std::string folder_path = absolute(folder.path);
    Descriptor fd(::open(folder_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const std::unique_ptr<DIR, int (*)(DIR*)> handle(fd.valid() ? ::fdopendir(fd.get()) : nullptr,
                                                     &::closedir);
    if (handle == nullptr) {
      throw error::IoError(error::system_message("cannot read folder " + folder_path, errno));
    }
    fd.release(); // closedir() closes it
    errno = 0;
    while (const dirent* item = ::readdir(handle.get())) {
      const char* name = item->d_name;
      if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) {
        visit_item(::dirfd(handle.get()), name, folder, stack);
      }
      errno = 0;
    }
    if (errno != 0) {
      throw error::IoError(error::system_message("cannot read folder " + folder_path, errno));
    }
  }

  void visit_item(int folder_fd, const char* name, const PendingFolder& folder,
                  std::vector<PendingFolder>& stack) {
    TreeEntry entry;
    entry.path = join(folder.path, name);
    struct stat st {};
    if (::fstatat(folder_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      throw error::IoError(error::system_message("cannot stat " + absolute(entry.path), errno));
    }
    fill_from_stat(entry, st);
    if (entry.kind == EntryKind::symlink) {
      entry.link_target = read_link(folder_fd, name);
      if (!follow_link(entry, st, folder)) {
        m_visit(entry);
        return;
      }
    }
    m_visit(entry);
    if (entry.kind == EntryKind::folder) {
      PendingFolder child{entry.path, folder.ancestors};
      child.ancestors.push_back(FileId{st.st_dev, st.st_ino});
      stack.push_back(std::move(child));
    }
  }

  // Resolves a symlink entry in place. Returns false (with link_status set) when the link
  // stays a link; true when `entry` and `st` now describe the target.
  bool follow_link(TreeEntry& entry, struct stat& st, const PendingFolder& folder) {
    if (!m_options.follow_symlinks) {
      entry.link_status = LinkStatus::not_followed;
      return false;
    }
    const std::string target = canonical(absolute(entry.path));
    if (target.empty()) {
      entry.link_status = LinkStatus::dangling;
      return false;
    }
    if (!is_inside(target, m_canonical_root)) {
      entry.link_status = LinkStatus::outside_root;
      return false;
    }
    struct stat target_st {};
    if (::stat(target.c_str(), &target_st) != 0) {
      entry.link_status = LinkStatus::dangling;
      return false;
    }
    if (S_ISDIR(target_st.st_mode)) {
      const FileId id{target_st.st_dev, target_st.st_ino};
      for (const FileId& ancestor : folder.ancestors) {
        if (ancestor == id) {
          entry.link_status = LinkStatus::loop;
          return false;
        }
      }
    }
    st = target_st;
    const std::string link_target = std::move(entry.link_target);
    fill_from_stat(entry, st);
    entry.link_target = link_target;
    entry.via_link = true;
    return true;
  }

  std::string m_root;
  std::string m_canonical_root;
  WalkOptions m_options;
  const std::function<void(const TreeEntry&)>& m_visit;
};

} // namespace

void walk_tree(const std::string& root, const WalkOptions& options,
               const std::function<void(const TreeEntry&)>& visit) {
  Walker(root, options, visit).run();
}

} // namespace shared::fs
