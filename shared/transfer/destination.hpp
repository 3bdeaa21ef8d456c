// The destination folder of a download, as the workers write into it: item paths checked
// before anything is written, and folders opened one segment at a time so that a symlink
// already in the destination is never followed. Internal to the download engine.
#pragma once

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace shared::transfer {

/// An item the destination would not be safe to receive (its path could land outside it, or
/// would clobber another item's part file).
class Refused : public error::Error {
public:
  explicit Refused(const std::string& message)
      : error::Error(error::ExitCode::items_failed, message) {}
};

/// An item path cut at its last '/': the folder ("" for the destination itself) and the name.
struct SplitPath {
  std::string folder;
  std::string name;
};
SplitPath split_path(const std::string& path);

/// The destination's folders this run created, and the destination itself when it was empty:
/// no leftover part file of an earlier run can be in them. Thread-safe.
class FreshFolders {
public:
  explicit FreshFolders(bool root) : m_root(root) {}
  /// `folder` (relative to the destination) was created by this run.
  void created(const std::string& folder);
  /// Whether `folder` ("" for the destination) was created by this run.
  bool fresh(const std::string& folder) const;

private:
  bool m_root;
  mutable std::mutex m_mutex;
  std::unordered_set<std::string> m_folders;
};

/// The destination folder, created when missing and held open, and the item paths it receives.
class Destination {
public:
  /// Creates `path` (with its parents) when missing and opens it. `item_paths`: every item path
  /// of the download, sorted. Throws error::IoError.
  Destination(const std::string& path, std::vector<std::string_view> item_paths);

  /// The destination's descriptor.
  int fd() const { return m_root.get(); }
  FreshFolders& fresh_folders() { return m_fresh; }

  /// Throws Refused for an item path the destination must not receive: one that could land
  /// outside it (absolute, ".", "..", a drive letter, a backslash) or that is another item's
  /// part-file name.
  void check_path(const std::string& path) const;

private:
  bool is_part_file_of_item(const std::string& path) const;

  fs::Descriptor m_root;
  FreshFolders m_fresh;
  std::vector<std::string_view> m_paths; // sorted
};

/// Opens (creating as needed) folders under the destination, one segment at a time with
/// O_NOFOLLOW: a symlink or a file on the way refuses the item. One per worker: it keeps the
/// last folder open, as consecutive items are often in one folder.
class FolderOpener {
public:
  explicit FolderOpener(Destination& destination) : m_destination(destination) {}

  /// The descriptor of `folder` (relative to the destination, "" for the destination itself),
  /// valid until the next call. Throws Refused, or error::IoError when it cannot be created.
  int open(const std::string& folder);

  /// Whether the folder open() gave last was created by this run (see FreshFolders).
  bool fresh() const { return m_is_fresh; }

private:
  int open_child(int parent, const std::string& name, const std::string& shown);

  Destination& m_destination;
  fs::Descriptor m_fd; // of m_folder, when not the destination itself
  std::string m_folder;
  bool m_is_fresh = false;
};

} // namespace shared::transfer
