// Writing a file under a temporary ".part" name and renaming it into place, so that a final
// name never holds partial content (a crash leaves at most a "<name>.part").
#pragma once

#include <string>
#include <string_view>

namespace shared::fs {

/// A file being written as "<final_path>.part". commit() flushes it to disk and renames it
/// to final_path; destroying it uncommitted deletes the part file. Paths are absolute or
/// relative to the working directory. Errors throw error::IoError naming the path.
class PartFile {
public:
  /// Creates "<final_path>.part" with mode 0644 (before umask), replacing a leftover (see
  /// create_part).
  explicit PartFile(std::string final_path);
  ~PartFile();
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  /// Appends `size` bytes (retrying short writes).
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }

  /// fsync, close, rename over final_path, fsync the folder.
  void commit();

  /// Deletes the part file now; commit() can no longer be called.
  void discard() noexcept;

  const std::string& final_path() const { return m_final_path; }
  const std::string& part_path() const { return m_part_path; }

private:
  std::string m_final_path;
  std::string m_part_path;
  int m_fd = -1;
};

/// Creates `name` in the folder open as `dir_fd` for reading and writing (mode 0644 before
/// umask) and returns its descriptor. Whatever is at that name already (a leftover part file,
/// a hard link, a symlink) is removed and replaced, never followed or written through.
/// Throws error::IoError naming `shown`.
int create_part(int dir_fd, const std::string& name, const std::string& shown);

/// The suffix of files still being written.
inline constexpr std::string_view k_part_suffix = ".part";

} // namespace shared::fs
