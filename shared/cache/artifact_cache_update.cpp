// ArtifactCache::update(): the next generation, built beside the current one and swapped
// with it.
#include "shared/cache/artifact_cache.hpp"
#include "shared/cache/generation.hpp"
#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/durable.hpp"
#include "shared/fs/file_copy.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/parallel/for_each_index.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::cache {
namespace {

namespace stdfs = std::filesystem;

// Whether two paths name one file (hard links of each other).
bool same_file(const std::string& a, const std::string& b) {
  struct stat first {};
  struct stat second {};
  return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 &&
         first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

// Atomically puts `next` where `current` is: exchanged when `current` exists, renamed
// otherwise. Returns the path now holding the old cache ("" when there was none).
std::string swap_into_place(const std::string& next, const std::string& current) {
  if (::renameat2(AT_FDCWD, next.c_str(), AT_FDCWD, current.c_str(), RENAME_EXCHANGE) == 0) {
    return next; // now holds the old cache
  }
  if (errno == ENOENT && ::rename(next.c_str(), current.c_str()) == 0) {
    return "";
  }
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
    // No RENAME_EXCHANGE here (NFS, some FUSE filesystems): two renames. In between there is
    // no current generation, which readers take for "no cache", never for a wrong one.
    const std::string old = next + ".old";
    if (::rename(current.c_str(), old.c_str()) == 0 &&
        ::rename(next.c_str(), current.c_str()) == 0) {
      return old;
    }
  }
  throw error::IoError(
      error::system_message("cannot put the new cache in place at " + current, errno));
}

void create_folder(const std::string& path) {
  std::error_code ec;
  if (stdfs::create_directories(path, ec); ec) {
    throw error::IoError("cannot create " + path + ": " + ec.message());
  }
}

// Opens the folder at `path` to make and sync files in it. Throws error::IoError.
int open_folder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot open " + path, errno));
  }
  return fd;
}

} // namespace

// One call of update(). The steps, in the order run() calls them: remove leftovers; plan which
// contents need an object added; add them (kept when unchanged, else copied or hard-linked
// from the root); keep the entries whose content is cached; write the next generation in
// new-<pid>/; swap it with current/; delete the objects it does not name.
class ArtifactCache::Update {
public:
  Update(ArtifactCache& cache, const std::string& root, const std::vector<metadata::Entry>& entries,
         Link link, const std::vector<std::optional<Fingerprint>>* checked);
  std::size_t run();

private:
  // A content of the next generation that find() did not see unchanged in this run.
  struct NewObject {
    hash::Digest digest;
    std::vector<std::size_t> entries;       // indexes into m_entries, in path order
    std::optional<Fingerprint> fingerprint; // the object's, once kept or added
    bool created = false; // there was no object: deleted again when the update fails
    bool written = false; // its object written by this update (new, or replacing a bad one)
  };

  void remove_leftovers();
  void plan_objects();
  void add_objects();
  void add_object(NewObject& object);
  bool add_from_root(NewObject& object, const std::string& name, std::size_t entry,
                     bool object_exists);
  bool may_cache(const metadata::Entry& entry, const std::string& file,
                 const Fingerprint& fingerprint, bool object_exists) const;
  void keep_cached_entries();
  void write_generation();
  void discard() noexcept;
  void delete_unnamed_objects();
  std::string object_path(const hash::Digest& digest) const {
    return m_objects_path + "/" + hash::to_hex(digest, false);
  }

  ArtifactCache& m_cache;
  const std::string& m_root;
  const std::vector<std::optional<Fingerprint>>* m_checked; // null: no checks to honour
  // The fingerprints the checks left, by path (the caller's entries: paths are unique).
  std::unordered_map<std::string_view, Fingerprint> m_checked_by_path;
  std::vector<metadata::Entry> m_entries; // sorted by path; after keep_cached_entries, cached
  std::vector<char> m_left_out;           // per entry: its file in the root was not used
  std::vector<NewObject> m_new_objects;
  // The next generation's objects: content → the fingerprint recorded for it.
  std::unordered_map<hash::Digest, Fingerprint, DigestHash> m_next_objects;
  // objects/ may hold files no generation names (an update was interrupted, or the cache was
  // not trusted): it is scanned at the end.
  bool m_scan_objects = false;
  std::string m_objects_path;
  std::string m_next_path; // new-<pid>/
  fs::Descriptor m_objects_fd;
  fs::FilePlacer m_placer;
};

std::size_t ArtifactCache::update(const std::string& root,
                                  const std::vector<metadata::Entry>& entries, Link link,
                                  const std::vector<std::optional<Fingerprint>>* checked) {
  return Update(*this, root, entries, link, checked).run();
}

ArtifactCache::Update::Update(ArtifactCache& cache, const std::string& root,
                              const std::vector<metadata::Entry>& entries, Link link,
                              const std::vector<std::optional<Fingerprint>>* checked)
    : m_cache(cache), m_root(root), m_checked(checked), m_entries(entries),
      m_objects_path(cache.m_path + "/" + k_objects),
      m_next_path(cache.m_path + "/" + k_next_prefix + std::to_string(::getpid())),
      m_placer(link == Link::hardlink) {
  if (checked != nullptr) {
    for (std::size_t i = 0; i < entries.size() && i < checked->size(); ++i) {
      if ((*checked)[i]) {
        m_checked_by_path.emplace(entries[i].path, *(*checked)[i]);
      }
    }
  }
}

std::size_t ArtifactCache::Update::run() {
  remove_leftovers();
  create_folder(m_objects_path);
  create_folder(m_next_path);
  m_objects_fd.reset(open_folder(m_objects_path));
  try {
    plan_objects();
    add_objects();
    keep_cached_entries();
    write_generation();
  } catch (...) {
    discard(); // the current generation is untouched
    throw;
  }
  const std::string old = swap_into_place(m_next_path, m_cache.m_path + "/" + k_current);
  fs::sync_folder(m_cache.m_path);
  // Only now may objects go. The old generation's folder goes last, so that an update
  // interrupted before that leaves a leftover, and the next one scans objects/.
  delete_unnamed_objects();
  if (std::error_code ec; !old.empty()) {
    stdfs::remove_all(old, ec);
  }
  return m_entries.size();
}

// Objects no generation names can only be left by an interrupted update (which leaves a
// leftover folder too) or be in a cache that was not trusted: then objects/ is scanned.
void ArtifactCache::Update::remove_leftovers() {
  const std::vector<std::string> leftovers = m_cache.leftovers();
  m_scan_objects = !leftovers.empty() || m_cache.m_objects.empty();
  for (const auto& leftover : leftovers) {
    std::error_code ec;
    stdfs::remove_all(leftover, ec);
  }
}

// Sorts the entries by path and sorts out their contents: one find() saw unchanged in this run
// stays as it is (under the exclusive lock no one has written it since); each other one is a
// new object, with the entries whose files may provide it.
void ArtifactCache::Update::plan_objects() {
  const auto by_path = [](const metadata::Entry& a, const metadata::Entry& b) {
    return a.path < b.path;
  };
  std::sort(m_entries.begin(), m_entries.end(), by_path);
  m_left_out.assign(m_entries.size(), 0);
  std::unordered_map<hash::Digest, std::size_t, DigestHash> new_index; // into m_new_objects
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    const hash::Digest& digest = m_entries[i].sha256;
    if (m_next_objects.count(digest) != 0) {
      continue;
    }
    const auto recorded = m_cache.m_objects.find(digest);
    if (recorded != m_cache.m_objects.end() &&
        recorded->second.seen_unchanged.load(std::memory_order_relaxed) &&
        !m_cache.rejected(object_path(digest))) {
      m_next_objects.emplace(digest, recorded->second.recorded);
      continue;
    }
    const auto [at, first] = new_index.emplace(digest, m_new_objects.size());
    if (first) {
      m_new_objects.push_back(NewObject{digest, {}, std::nullopt});
    }
    m_new_objects[at->second].entries.push_back(i);
  }
}

// Independent files: shared by a few threads.
void ArtifactCache::Update::add_objects() {
  parallel::for_each_index(m_new_objects.size(), parallel::helpers_for(m_new_objects.size(), 64),
                           [this](std::size_t k) { add_object(m_new_objects[k]); });
  for (const NewObject& object : m_new_objects) {
    if (object.fingerprint) {
      m_next_objects.emplace(object.digest, *object.fingerprint);
    }
  }
}

// Keeps the object when it is there unchanged (and did not fail a check), else makes it from
// the first of its entries whose file in the root may provide it.
void ArtifactCache::Update::add_object(NewObject& object) {
  const hash::Digest& digest = object.digest;
  const std::string name = hash::to_hex(digest, false);
  const auto recorded = m_cache.m_objects.find(digest);
  const auto existing = recorded == m_cache.m_objects.end()
                            ? std::nullopt
                            : Fingerprint::of(m_objects_fd.get(), name);
  if (existing && *existing == recorded->second.recorded &&
      !m_cache.rejected(object_path(digest))) {
    object.fingerprint = existing;
    return;
  }
  for (const std::size_t entry : object.entries) {
    if (add_from_root(object, name, entry, existing.has_value())) {
      return;
    }
    m_left_out[entry] = 1;
  }
}

// Makes objects/<name> from the root's file of `entry`, read-only; false when that file
// may not provide it (see may_cache) or was written while it was copied.
bool ArtifactCache::Update::add_from_root(NewObject& object, const std::string& name,
                                          std::size_t entry, bool object_exists) {
  const std::string& path = m_entries[entry].path;
  const std::string file = m_root + "/" + path;
  const auto before = Fingerprint::of(file);
  if (!before || !may_cache(m_entries[entry], file, *before, object_exists)) {
    return false;
  }
  object.created = !object_exists;
  // Without a scan to do, objects/ holds no leftover part file of an earlier update.
  const fs::Placed made =
      m_placer.place(file, m_objects_fd.get(), name, fs::PlaceHints{before->size, !m_scan_objects});
  const bool linked = made.method == fs::CopyMethod::hard_link;
  if (!linked && m_checked != nullptr && Fingerprint::of(file) != before) {
    // Written while it was copied: the copy may hold bytes no check saw.
    ::unlinkat(m_objects_fd.get(), name.c_str(), 0);
    return false;
  }
  // Read-only; with a hard link, the destination's file too (its fingerprint stays: a mode
  // change moves only the ctime).
  ::fchmodat(m_objects_fd.get(), name.c_str(), 0444, 0);
  object.written = true;
  object.fingerprint = linked ? before : Fingerprint::of(m_objects_fd.get(), name);
  if (!object.fingerprint) {
    throw error::IoError("cannot cache " + path + ": it went away");
  }
  return true;
}

// Whether the root's `file` (of `entry`, with `fingerprint` now) may provide the entry's
// content. Missing files (left out by an item pattern) never get here. With the checks'
// fingerprints: only the very file that was checked, unchanged since. Without them: any file,
// unless it is the changed object itself (a hard link placed it; only a cached object that
// exists can have been), which only reading it can vouch for.
bool ArtifactCache::Update::may_cache(const metadata::Entry& entry, const std::string& file,
                                      const Fingerprint& fingerprint, bool object_exists) const {
  if (m_checked != nullptr) {
    const auto checked = m_checked_by_path.find(entry.path);
    return checked != m_checked_by_path.end() && checked->second == fingerprint;
  }
  return !object_exists || !same_file(file, object_path(entry.sha256)) ||
         hash::FileHasher().hash_file(file).sha256 == entry.sha256;
}

// Keeps the entries whose content the next generation holds (and whose file was not left
// out), in path order.
void ArtifactCache::Update::keep_cached_entries() {
  std::size_t count = 0;
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    if (m_left_out[i] == 0 && m_next_objects.count(m_entries[i].sha256) != 0) {
      if (count != i) {
        m_entries[count] = std::move(m_entries[i]);
      }
      ++count;
    }
  }
  m_entries.resize(count);
}

// Writes the next generation's files, the marker last: only once every object it names is
// on the disk (those this update wrote; the others were synced by the update that wrote them),
// and their names.
void ArtifactCache::Update::write_generation() {
  std::vector<Fingerprint> fingerprints;
  fingerprints.reserve(m_entries.size());
  for (const auto& entry : m_entries) {
    fingerprints.push_back(m_next_objects.at(entry.sha256));
  }
  const std::string marker = write_generation_files(m_next_path, m_entries, fingerprints);
  std::vector<std::string> written;
  for (const NewObject& object : m_new_objects) {
    if (object.written) {
      written.push_back(object_path(object.digest));
    }
  }
  fs::sync_files(m_objects_fd.get(), written);
  fs::sync_folder(m_objects_path);
  write_marker(m_next_path, marker);
}

void ArtifactCache::Update::discard() noexcept {
  for (const NewObject& object : m_new_objects) {
    if (object.created) {
      ::unlink(object_path(object.digest).c_str());
    }
  }
  std::error_code ec;
  stdfs::remove_all(m_next_path, ec);
}

// Deletes the objects the new current generation does not name: when objects/ is to be
// scanned, every other file in it; else those the previous generation named.
void ArtifactCache::Update::delete_unnamed_objects() {
  if (m_scan_objects) {
    std::unordered_set<std::string> named;
    for (const auto& [digest, fingerprint] : m_next_objects) {
      named.insert(hash::to_hex(digest, false));
    }
    std::error_code ec;
    for (const auto& file : stdfs::directory_iterator(m_objects_path, ec)) {
      if (named.count(file.path().filename().string()) == 0) {
        stdfs::remove(file.path(), ec);
      }
    }
    return;
  }
  for (const auto& [digest, object] : m_cache.m_objects) {
    if (m_next_objects.count(digest) == 0) {
      ::unlinkat(m_objects_fd.get(), hash::to_hex(digest, false).c_str(), 0);
    }
  }
}

} // namespace shared::cache
