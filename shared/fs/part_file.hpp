// Writing a file under a temporary ".part" name and renaming it into place, so that a final
// name never holds partial content (a crash leaves at most a "<name>.part").
#pragma once

#include "shared/fs/descriptor.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace shared::fs {

/// What PartFile::commit does to make the file survive a crash or power failure.
enum class Durability {
  /// Rename only: readers never see a partial file under the final name, but after a power
  /// failure the file may be missing or incomplete. For outputs the next step reads at once.
  none,
  /// fsync(2) the file, rename, fsync(2) the folder: once commit() returns, the file is on
  /// disk under its final name.
  flush
};

/// A file being written as "<name>.part" in a folder. commit() renames it to its final name,
/// with the Durability chosen; destroying it uncommitted (or discard()) deletes the part file.
/// Errors throw error::IoError naming the file as shown (the path given, or `shown`).
class PartFile {
public:
  /// Creates "<final_path>.part" (final_path absolute or relative to the working directory)
  /// with mode 0644 before umask, replacing a leftover (see create_part).
  explicit PartFile(const std::string& final_path, Durability durability = Durability::flush);

  /// Creates "<name>.part" next to `name`, a path relative to the folder open as `folder_fd`
  /// (or AT_FDCWD; an absolute path ignores it), which is usually a single file name; the
  /// PartFile keeps its own descriptor of the file's folder. `shown` names the final file in
  /// errors (e.g. its path relative to the download's root).
  PartFile(int folder_fd, const std::string& name, std::string shown,
           Durability durability = Durability::flush);

  ~PartFile();
  PartFile(PartFile&&) = default;
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  PartFile& operator=(PartFile&&) = delete;

  /// The part file's descriptor (e.g. for pwrite(2) at an offset); -1 once committed or
  /// discarded. Owned by the PartFile: do not close it.
  int descriptor() const { return m_file.get(); }

  /// Appends `size` bytes at the descriptor's offset (retrying short writes).
  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }

  /// Renames the part file to the final name (replacing any file there), after and before the
  /// flushes the Durability asks for. On an error the part file is deleted.
  void commit();

  /// Deletes the part file now; commit() can no longer be called.
  void discard() noexcept;

  /// The final file and the part file as shown in errors.
  const std::string& final_path() const { return m_shown; }
  const std::string& part_path() const { return m_part_shown; }

private:
  Descriptor m_folder;
  Descriptor m_file;
  std::string m_name;
  std::string m_part_name;
  std::string m_shown;
  std::string m_part_shown;
  Durability m_durability;
};

/// Creates `name` in the folder open as `folder_fd` for reading and writing (mode 0644 before
/// umask) and returns its descriptor. Whatever is at that name already (a leftover part file,
/// a hard link, a symlink) is removed and replaced, never followed or written through.
/// Throws error::IoError naming `shown`.
int create_part(int folder_fd, const std::string& name, const std::string& shown);

/// The suffix of files still being written.
inline constexpr std::string_view k_part_suffix = ".part";

} // namespace shared::fs
