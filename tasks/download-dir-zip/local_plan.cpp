#include "tasks/download-dir-zip/local_plan.hpp"

#include "shared/fs/tree_walker.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"

#include <algorithm>
#include <filesystem>

namespace tasks::download_dir_zip {
namespace {

namespace zip = shared::zip;

// Whether the symlink at `link` resolves, through whatever other links it meets on disk, to a
// place inside `real_folder` (a canonical path). A dangling tail is taken as written.
bool resolves_inside(const std::string& real_folder, const std::string& link) {
  std::error_code ec;
  const auto target = std::filesystem::weakly_canonical(link, ec);
  if (ec) {
    return false;
  }
  const std::string resolved = target.string();
  return resolved == real_folder || (resolved.size() > real_folder.size() &&
                                     resolved.compare(0, real_folder.size(), real_folder) == 0 &&
                                     (real_folder == "/" || resolved[real_folder.size()] == '/'));
}

} // namespace

void Plan::add(zip::Entry entry, std::int64_t entry_mtime_ns) {
  switch (entry.kind) {
  case zip::EntryKind::file:
    ++files;
    file_bytes += entry.size;
    break;
  case zip::EntryKind::folder:
    ++folders;
    break;
  case zip::EntryKind::symlink:
    ++links;
    break;
  }
  entries.push_back(std::move(entry));
  mtime_ns.push_back(entry_mtime_ns);
}

bool acceptable(const std::string& name, zip::EntryKind kind,
                shared::log::LimitedWarnings& warnings, Plan& plan) {
  if (const auto problem = zip::check_entry_name(name, kind)) {
    warnings.warn("skipped " + name + ": " + *problem);
    ++plan.skipped;
    return false;
  }
  return true;
}

bool find_folder(const std::string& root, const std::string& path, struct stat* info) {
  struct stat own {};
  struct stat& st = info != nullptr ? *info : own;
  bool folder = ::stat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  std::string at = root;
  for (std::size_t start = 0; folder && start < path.size();) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    at += "/" + path.substr(start, slash - start);
    folder = ::lstat(at.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    start = slash + 1;
  }
  return folder;
}

void plan_folder(Plan& plan, const std::string& folder, const std::string& prefix,
                 bool store_symlinks, const struct stat* skip,
                 shared::log::LimitedWarnings& warnings) {
  const std::string real_folder = std::filesystem::canonical(folder).string();
  namespace fs = shared::fs;
  fs::walk_tree(folder, fs::WalkOptions{}, [&](const fs::TreeEntry& item) {
    const std::string name = prefix + item.path;
    const std::int64_t mtime = item.mtime_ns / 1'000'000'000;
    switch (item.kind) {
    case fs::EntryKind::file:
      if (skip != nullptr && item.inode == skip->st_ino && item.device == skip->st_dev) {
        warnings.warn("skipped " + name + ": it is the output, from an earlier run");
        ++plan.skipped;
      } else if (acceptable(name, zip::EntryKind::file, warnings, plan)) {
        plan.add(
            {name, zip::EntryKind::file, item.size, std::nullopt, mtime, item.mode, "", item.path},
            item.mtime_ns);
      }
      break;
    case fs::EntryKind::folder:
      if (acceptable(name, zip::EntryKind::folder, warnings, plan)) {
        plan.add({name, zip::EntryKind::folder, 0, std::nullopt, mtime, item.mode, "", ""},
                 item.mtime_ns);
      }
      break;
    case fs::EntryKind::symlink:
      if (!store_symlinks) {
        warnings.warn("skipped symlink " + name + " (symlinks: skip)");
        ++plan.skipped;
      } else if (!link_stays_inside(item.path, item.link_target) ||
                 !resolves_inside(real_folder, folder + "/" + item.path)) {
        warnings.warn("skipped symlink " + name + " -> " + item.link_target +
                      ": it leads out of the folder");
        ++plan.skipped;
      } else if (acceptable(name, zip::EntryKind::symlink, warnings, plan)) {
        plan.add(
            {name, zip::EntryKind::symlink, 0, std::nullopt, mtime, 0777, item.link_target, ""},
            item.mtime_ns);
      }
      break;
    case fs::EntryKind::other:
      warnings.warn("skipped " + name + ": not a regular file, folder or symlink");
      ++plan.skipped;
      break;
    }
  });
}

} // namespace tasks::download_dir_zip
