#include "shared/transfer/destination.hpp"

#include "shared/fs/folder.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace shared::transfer {
namespace {

int open_folder(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw error::IoError("cannot create " + path + ": " + ec.message());
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot open " + path, errno));
  }
  return fd;
}

bool is_empty_folder(int fd) {
  std::vector<fs::FolderEntry> entries;
  return fs::read_folder(fd, entries) && entries.empty();
}

} // namespace

SplitPath split_path(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return {"", path};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

void FreshFolders::created(const std::string& folder) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_folders.insert(folder);
}

bool FreshFolders::fresh(const std::string& folder) const {
  if (folder.empty()) {
    return m_root;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_folders.count(folder) != 0;
}

Destination::Destination(const std::string& path, std::vector<std::string_view> item_paths)
    : m_root(open_folder(path)), m_fresh(is_empty_folder(m_root.get())),
      m_paths(std::move(item_paths)) {}

void Destination::check_path(const std::string& path) const {
  if (auto problem = metadata::unwritable_path_problem(path)) {
    throw Refused("refused: " + *problem);
  }
  if (is_part_file_of_item(path)) {
    throw Refused("refused: " + path + " is the part-file name of " +
                  path.substr(0, path.size() - fs::k_part_suffix.size()) +
                  ", also in the artifact");
  }
}

// Whether `path` is "<another item>.part": writing both would let one clobber the other.
bool Destination::is_part_file_of_item(const std::string& path) const {
  const std::size_t suffix = fs::k_part_suffix.size();
  if (path.size() <= suffix || path.compare(path.size() - suffix, suffix, fs::k_part_suffix) != 0) {
    return false;
  }
  return std::binary_search(m_paths.begin(), m_paths.end(),
                            std::string_view(path).substr(0, path.size() - suffix));
}

int FolderOpener::open(const std::string& folder) {
  FreshFolders& fresh = m_destination.fresh_folders();
  if (folder.empty()) {
    m_is_fresh = fresh.fresh(folder);
    return m_destination.fd();
  }
  if (m_fd.get() >= 0 && folder == m_folder) {
    return m_fd.get();
  }
  m_folder.clear();
  m_fd.reset(::dup(m_destination.fd()));
  if (m_fd.get() < 0) {
    throw error::IoError(error::system_message("cannot open folder " + folder, errno));
  }
  for (std::size_t start = 0; start < folder.size();) {
    const std::size_t slash = std::min(folder.find('/', start), folder.size());
    m_fd.reset(
        open_child(m_fd.get(), folder.substr(start, slash - start), folder.substr(0, slash)));
    start = slash + 1;
  }
  m_folder = folder;
  m_is_fresh = fresh.fresh(folder);
  return m_fd.get();
}

// Opens (creating when missing) the folder `name` in the folder open as `parent`, never
// through a symlink; `shown` is its path in the destination.
int FolderOpener::open_child(int parent, const std::string& name, const std::string& shown) {
  constexpr int k_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(parent, name.c_str(), k_flags);
  if (fd < 0 && errno == ENOENT) {
    if (::mkdirat(parent, name.c_str(), 0755) == 0) {
      m_destination.fresh_folders().created(shown);
    } else if (const int saved = errno; saved != EEXIST) {
      throw error::IoError(error::system_message("cannot create folder " + shown, saved));
    }
    fd = ::openat(parent, name.c_str(), k_flags);
  }
  if (fd < 0) {
    const int saved = errno;
    if (saved == ELOOP || saved == ENOTDIR) {
      throw Refused("refused: " + shown +
                    " in the destination is a symlink or a file, not a folder");
    }
    throw error::IoError(error::system_message("cannot open folder " + shown, saved));
  }
  return fd;
}

} // namespace shared::transfer
