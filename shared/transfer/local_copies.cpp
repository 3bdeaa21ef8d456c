#include "shared/transfer/local_copies.hpp"

#include "shared/fs/fingerprint.hpp"

#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unordered_map>

namespace shared::transfer {
namespace {

// Whether `name` in the folder open as `folder` is the regular file (`device`, `inode`); false
// for an unknown inode (0).
bool is_file(int folder, const char* name, std::uint64_t device, std::uint64_t inode) {
  struct stat info {};
  return inode != 0 && ::fstatat(folder, name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(info.st_mode) && static_cast<std::uint64_t>(info.st_dev) == device &&
         static_cast<std::uint64_t>(info.st_ino) == inode;
}

} // namespace

bool hashed_when_placed(const DownloadOptions& options, const LocalCopy& copy) {
  return !options.skip_validation && (!copy.unchanged || options.hash_local_copies);
}

bool LocalCopyPlacer::in_place(const source::Item& item) {
  if (m_run.options.in_place == nullptr || !item.sha256) {
    return false;
  }
  const std::optional<std::uint64_t> bytes = m_run.options.in_place->find(item.path);
  if (!bytes) {
    return false;
  }
  m_run.progress.add_bytes(*bytes);
  m_run.tally.bytes_saved += *bytes;
  ++m_run.tally.from_cache;
  return true;
}

bool LocalCopyPlacer::place(const source::Item& item, int folder, const std::string& name,
                            bool fresh) {
  LocalCopies* copies = m_run.options.local_copies;
  if (!item.sha256 || copies == nullptr) {
    return false;
  }
  const std::optional<LocalCopy> copy = copies->find(item);
  if (!copy) {
    return false;
  }
  try {
    m_run.tally.bytes_saved += place_copy(item, folder, name, fresh, *copy);
    ++m_run.tally.from_cache;
    return true;
  } catch (const error::Interrupted&) {
    throw;
  } catch (const error::IntegrityError& e) {
    m_run.logger.warning("cached copy of " + item.path + " not used (" + e.what() +
                         "): downloading it");
    copies->failed(*copy); // its bytes are wrong, not just this placing
  } catch (const error::Error& e) {
    m_run.logger.warning("cached copy of " + item.path + " not used (" + e.what() +
                         "): downloading it");
  }
  return false;
}

// Checks and places the copy; returns the bytes placed.
std::uint64_t LocalCopyPlacer::place_copy(const source::Item& item, int folder,
                                          const std::string& name, bool fresh,
                                          const LocalCopy& copy) {
  const bool hashed = hashed_when_placed(m_run.options, copy);
  // The copy's fingerprint before its hash, to see that what was placed is what was hashed.
  const auto before = hashed ? fs::Fingerprint::of(copy.path) : std::nullopt;
  verify(item, copy, hashed);
  std::uint64_t bytes = 0;
  if (m_run.options.link_local_copies && !fresh && copy.size &&
      is_file(folder, name.c_str(), copy.device, copy.inode)) {
    bytes = *copy.size; // a hard link of the copy already: as placing makes
  } else {
    fs::PlaceHints hints{copy.size, fresh};
    if (copy.folder_fd >= 0 && !copy.name.empty()) {
      hints.from_folder = copy.folder_fd;
      hints.from_name = copy.name.c_str();
    }
    bytes = m_placer.place(copy.path, folder, name, hints).bytes;
  }
  if (hashed && before && fs::Fingerprint::of(copy.path) == before) { // unchanged throughout
    m_run.tally.record_checked(item, fs::Fingerprint::of(folder, name));
  }
  m_run.progress.add_bytes(bytes);
  return bytes;
}

// Throws error::IntegrityError when the copy's SHA-256 (when `hashed`) or size is not the
// item's.
void LocalCopyPlacer::verify(const source::Item& item, const LocalCopy& copy, bool hashed) {
  if (hashed) {
    const hash::FileHash got =
        m_hasher.hash_file(copy.path, [this](std::size_t) { m_run.throw_if_cancelled(); });
    if (got.sha256 != *item.sha256) {
      throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*item.sha256) +
                                  ", got " + hash::to_hex(got.sha256));
    }
  }
  if (item.size) {
    struct stat info {};
    const bool known = copy.size.has_value();
    if ((!known && ::stat(copy.path.c_str(), &info) != 0) ||
        (known ? *copy.size : static_cast<std::uint64_t>(info.st_size)) != *item.size) {
      throw error::IntegrityError("size mismatch: expected " + std::to_string(*item.size) +
                                  " bytes");
    }
  }
}

void InPlace::add(const std::string& path, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_bytes.emplace(path, bytes);
}

std::optional<std::uint64_t> InPlace::find(const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_bytes.find(path);
  return found == m_bytes.end() ? std::nullopt : std::optional<std::uint64_t>(found->second);
}

KeepFile placed_local_copies(const source::Listing& listing, const DownloadOptions& options,
                             InPlace* in_place) {
  if (options.local_copies == nullptr || !options.link_local_copies) {
    return {}; // copies are never hard links: a link left by a run that made them goes
  }
  auto items = std::make_shared<std::unordered_map<std::string, const source::Item*>>();
  for (const auto& item : listing.items) {
    if (item.sha256 && !item.is_directory && options.patterns.matches(item.path)) {
      items->emplace(item.path, &item);
    }
  }
  return [items, options, in_place](const std::string& path, int folder, const char* name,
                                    const FileId* id) {
    const auto item = items->find(path);
    if (item == items->end()) {
      return false;
    }
    const auto copy = options.local_copies->find(*item->second);
    if (!copy || copy->inode == 0 ||
        (id != nullptr ? id->device != copy->device || id->inode != copy->inode
                       : !is_file(folder, name, copy->device, copy->inode))) {
      return false;
    }
    // Nothing left to check when placing would not hash it: it is in place.
    const auto& size = item->second->size;
    if (in_place != nullptr && !hashed_when_placed(options, *copy) && copy->size &&
        (!size || *size == *copy->size)) {
      in_place->add(path, *copy->size);
    }
    return true;
  };
}

} // namespace shared::transfer
