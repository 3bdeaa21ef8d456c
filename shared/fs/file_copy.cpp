#include "shared/fs/file_copy.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/read_loop.hpp"
#include "shared/fs/write_loop.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/fs.h>
#include <memory>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::fs {
namespace {

// Copies `size` bytes from `in` to `out` in the kernel where it can, else through a buffer.
void copy_bytes(int in, int out, std::uint64_t size, const std::string& from,
                const std::string& to) {
  std::uint64_t left = size;
  while (left > 0) {
    const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, left, 0);
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) {
      break; // the file shrank; the size check below reports it
    }
    if (errno == EINTR) {
      continue;
    }
    if (left == size && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                         errno == EOPNOTSUPP || errno == EPERM)) {
      constexpr std::size_t k_buffer = 256 * 1024;
      const std::unique_ptr<char[]> buffer(new char[k_buffer]);
      left -= read_to_end(in, buffer.get(), k_buffer, from,
                          [&](const char* data, std::size_t n) { write_all(out, data, n, to); });
      break;
    }
    throw error::IoError(error::system_message("cannot copy " + from + " to " + to, errno));
  }
  if (left != 0) {
    throw error::IoError("cannot copy " + from + ": it changed size while being copied");
  }
}

// Renames the hard link `part` over `name`; the part name is gone afterwards either way.
void rename_link_over(int folder_fd, const std::string& part, const std::string& name) {
  if (::renameat(folder_fd, part.c_str(), folder_fd, name.c_str()) != 0) {
    const int saved = errno;
    ::unlinkat(folder_fd, part.c_str(), 0);
    throw error::IoError(error::system_message("cannot rename " + part + " into place", saved));
  }
}

// Whether a failed FICLONE or link(2) means "not between these filesystems" rather than a
// problem with this one file.
bool unsupported(int error) {
  return error == EOPNOTSUPP || error == EXDEV || error == EINVAL || error == ENOTTY ||
         error == ENOSYS || error == EPERM;
}

} // namespace

Placed FilePlacer::place(const std::string& from, int folder_fd, const std::string& name,
                         const PlaceHints& hints) {
  Placed placed;
  // Where `from` is, for the calls below.
  const bool relative = hints.from_folder >= 0 && hints.from_name != nullptr;
  const int at = relative ? hints.from_folder : AT_FDCWD;
  const char* path = relative ? hints.from_name : from.c_str();
  if (hints.size) {
    placed.bytes = *hints.size;
  } else {
    struct stat info {};
    if (::fstatat(at, path, &info, AT_SYMLINK_NOFOLLOW) != 0) {
      throw error::IoError(error::system_message("cannot open " + from, errno));
    }
    if (!S_ISREG(info.st_mode)) {
      throw error::IoError("cannot copy " + from + ": not a regular file");
    }
    placed.bytes = static_cast<std::uint64_t>(info.st_size);
  }
  const std::string part = name + std::string(k_part_suffix);

  // Reflink, else hard link, else copy. A method these filesystems refuse is not tried
  // again by later calls; each flag is read once here, so threads never skip a method
  // half-way.
  if (!m_no_reflink.load(std::memory_order_relaxed)) {
    Descriptor in(::openat(at, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in.valid()) {
      throw error::IoError(error::system_message("cannot open " + from, errno));
    }
    PartFile out(folder_fd, name, name, Durability::none);
    if (::ioctl(out.descriptor(), FICLONE, in.get()) == 0) {
      out.commit();
      placed.method = CopyMethod::reflink;
      return placed;
    }
    if (unsupported(errno)) {
      m_no_reflink = true;
    }
  } // the part file is deleted

  if (m_allow_hard_link && !m_no_hard_link.load(std::memory_order_relaxed)) {
    // A new name is linked in one step; an existing one is replaced through the part file.
    if (!hints.fresh_folder) {
      ::unlinkat(folder_fd, part.c_str(), 0); // a leftover part file goes either way
    }
    bool linked = ::linkat(at, path, folder_fd, name.c_str(), 0) == 0;
    if (!linked && errno == EEXIST && ::linkat(at, path, folder_fd, part.c_str(), 0) == 0) {
      rename_link_over(folder_fd, part, name);
      ::unlinkat(folder_fd, part.c_str(), 0); // rename(2) does nothing between links of one file
      linked = true;
    }
    if (linked) {
      placed.method = CopyMethod::hard_link;
      return placed;
    }
    // EMLINK (too many links to this file) and EPERM (fs.protected_hardlinks) are about this
    // file: it is copied. Other refusals stop the links; anything else is an error.
    if (!unsupported(errno) && errno != EMLINK) {
      throw error::IoError(error::system_message("cannot link " + from + " to " + name, errno));
    }
    if (errno != EMLINK && errno != EPERM) {
      m_no_hard_link = true;
    }
  }

  Descriptor in(::openat(at, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) {
    throw error::IoError(error::system_message("cannot open " + from, errno));
  }
  PartFile out(folder_fd, name, name, Durability::none);
  copy_bytes(in.get(), out.descriptor(), placed.bytes, from, out.part_path());
  out.commit();
  return placed;
}

} // namespace shared::fs
