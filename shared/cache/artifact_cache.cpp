#include "shared/cache/artifact_cache.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/durable.hpp"
#include "shared/fs/file_copy.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/parallel/for_each_index.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace shared::cache {
namespace {

namespace stdfs = std::filesystem;

const char* const k_marker = ".verify";
const char* const k_objects = "objects";
const char* const k_current = "current";
const char* const k_fresh_prefix = "new-";
const char* const k_fingerprints = "fingerprints";

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file_synced(const std::string& path, const std::string& content) {
  fs::PartFile file(path);
  file.write(content);
  file.commit();
}

template <typename Number>
void append_number(std::string& text, Number value, char separator) {
  char digits[24];
  text.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  text.push_back(separator);
}

std::string to_text(const std::vector<Fingerprint>& fingerprints) {
  std::string text;
  text.reserve(fingerprints.size() * 48);
  for (const auto& print : fingerprints) {
    append_number(text, print.size, ' ');
    append_number(text, print.mtime_ns, ' ');
    append_number(text, print.inode, '\n');
  }
  return text;
}

// Reads one number and the separator after it; false when either is missing.
template <typename Number>
bool read_field(const char*& at, const char* end, Number& value, char separator) {
  const auto [next, error] = std::from_chars(at, end, value);
  if (error != std::errc() || next == end || *next != separator) {
    return false;
  }
  at = next + 1;
  return true;
}

std::optional<std::vector<Fingerprint>> parse_fingerprints(const std::string& text) {
  std::vector<Fingerprint> fingerprints;
  const char* at = text.data();
  const char* const end = at + text.size();
  while (at != end) {
    Fingerprint print;
    if (!read_field(at, end, print.size, ' ') || !read_field(at, end, print.mtime_ns, ' ') ||
        !read_field(at, end, print.inode, '\n')) {
      return std::nullopt;
    }
    fingerprints.push_back(print);
  }
  return fingerprints;
}

// Whether two paths name one file (hard links of each other).
bool same_file(const std::string& a, const std::string& b) {
  struct stat first {};
  struct stat second {};
  return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 &&
         first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

std::string sha256_hex(const std::string& text) {
  return hash::to_hex(hash::sha256(text), false);
}

// Atomically puts `fresh` where `current` is: exchanged when `current` exists, renamed
// otherwise. Returns the path now holding the old cache ("" when there was none).
std::string swap_into_place(const std::string& fresh, const std::string& current) {
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, current.c_str(), RENAME_EXCHANGE) == 0) {
    return fresh; // now holds the old cache
  }
  if (errno == ENOENT && ::rename(fresh.c_str(), current.c_str()) == 0) {
    return "";
  }
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
    // No RENAME_EXCHANGE here (NFS, some FUSE filesystems): two renames. In between there is
    // no current generation, which readers take for "no cache", never for a wrong one.
    const std::string old = fresh + ".old";
    if (::rename(current.c_str(), old.c_str()) == 0 &&
        ::rename(fresh.c_str(), current.c_str()) == 0) {
      return old;
    }
  }
  throw error::IoError(
      error::system_message("cannot put the new cache in place at " + current, errno));
}

} // namespace

bool is_key_folder_name(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

ArtifactCache::ArtifactCache(const std::string& cache_directory, const std::string& key)
    : m_path(cache_directory + "/" + std::string(k_cache_folder) + "/" +
             hash::to_hex(hash::sha256(key), false)) {}

ArtifactCache::State ArtifactCache::open(std::string& reason) {
  m_objects.clear();
  m_sizes.clear();
  const std::string current = m_path + "/" + k_current;
  const auto marker = read_text(current + "/" + k_marker);
  if (!marker) {
    const bool exists = stdfs::exists(m_path);
    reason = exists ? "no " + std::string(k_marker) + " marker (an update did not finish)"
                    : "no cache for this key yet";
    return exists ? State::untrusted : State::missing;
  }
  const auto csv = read_text(current + "/" + std::string(metadata::k_file_name));
  const auto prints = read_text(current + "/" + k_fingerprints);
  try {
    const auto json = Poco::JSON::Parser().parse(*marker).extract<Poco::JSON::Object::Ptr>();
    if (!csv || !prints || json->optValue<std::string>("metadataSha256", "") != sha256_hex(*csv) ||
        json->optValue<std::string>("fingerprintsSha256", "") != sha256_hex(*prints)) {
      reason = "its .verify marker does not match its files";
      return State::untrusted;
    }
    metadata::Metadata metadata = metadata::parse_csv(*csv);
    const auto fingerprints = parse_fingerprints(*prints);
    if (!fingerprints || fingerprints->size() != metadata.entries.size()) {
      reason = "its fingerprints do not match its metadata";
      return State::untrusted;
    }
    m_sizes.reserve(metadata.entries.size());
    for (std::size_t i = 0; i < metadata.entries.size(); ++i) {
      m_objects.emplace(std::piecewise_construct, std::forward_as_tuple(metadata.entries[i].sha256),
                        std::forward_as_tuple((*fingerprints)[i]));
      m_sizes.emplace_back(std::move(metadata.entries[i].path), (*fingerprints)[i].size);
    }
    std::sort(m_sizes.begin(), m_sizes.end()); // already sorted as written: one pass
    m_objects_fd.reset(
        ::open((m_path + "/" + k_objects).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat folder {};
    if (m_objects_fd.get() >= 0 && ::fstat(m_objects_fd.get(), &folder) == 0) {
      m_objects_device = static_cast<std::uint64_t>(folder.st_dev);
    } else if (!m_objects.empty()) {
      reason = error::system_message("cannot open its objects", errno);
      m_objects.clear();
      m_sizes.clear();
      return State::untrusted;
    }
    reason = "last updated " + json->optValue<std::string>("lastUpdatedOn", "?");
  } catch (const std::exception& e) {
    m_objects.clear();
    m_sizes.clear();
    reason = std::string("unreadable cache: ") + e.what();
    return State::untrusted;
  }
  return State::trusted;
}

std::vector<std::string> ArtifactCache::leftovers() const {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(m_path, ec)) {
    if (entry.path().filename().string().rfind(k_fresh_prefix, 0) == 0) {
      found.push_back(entry.path().string());
    }
  }
  const stdfs::path key(m_path);
  const std::string sibling = key.filename().string() + ".";
  for (const auto& entry : stdfs::directory_iterator(key.parent_path(), ec)) {
    if (entry.path().filename().string().rfind(sibling, 0) == 0 && entry.is_directory(ec)) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

std::optional<CachedFile> ArtifactCache::find(const hash::Digest& sha256) const {
  const auto recorded = m_objects.find(sha256);
  if (recorded == m_objects.end()) {
    return std::nullopt;
  }
  std::string name = hash::to_hex(sha256, false);
  CachedFile file{m_path + "/" + k_objects + "/" + name, m_objects_fd.get(), {}};
  if (m_any_rejected.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_rejected.count(file.path) != 0) {
      return std::nullopt; // failed its check once already in this run
    }
  }
  const auto now = Fingerprint::of(m_objects_fd.get(), name);
  if (!now) {
    return std::nullopt;
  }
  file.unchanged = *now == recorded->second.recorded;
  file.size = now->size;
  file.device = m_objects_device;
  file.inode = now->inode;
  file.name = std::move(name);
  if (file.unchanged) {
    recorded->second.seen_unchanged.store(true, std::memory_order_relaxed);
  }
  return file;
}

std::optional<std::uint64_t> ArtifactCache::size_at(const std::string& path) const {
  const auto at = std::lower_bound(m_sizes.begin(), m_sizes.end(), path,
                                   [](const std::pair<std::string, std::uint64_t>& row,
                                      const std::string& wanted) { return row.first < wanted; });
  if (at == m_sizes.end() || at->first != path) {
    return std::nullopt;
  }
  return at->second;
}

void ArtifactCache::reject(const std::string& path) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_rejected.insert(path);
  m_any_rejected.store(true, std::memory_order_release);
}

std::size_t ArtifactCache::update(const std::string& root,
                                  const std::vector<metadata::Entry>& entries, Link link,
                                  const std::vector<std::optional<Fingerprint>>* checked) {
  std::error_code ec;
  // Objects no generation names can only be left by an interrupted update (which leaves a
  // leftover) or be in a cache that was not trusted: then objects/ is scanned at the end.
  const std::vector<std::string> interrupted = leftovers();
  const bool scan = !interrupted.empty() || m_objects.empty();
  for (const auto& leftover : interrupted) {
    stdfs::remove_all(leftover, ec);
  }
  const std::string objects = m_path + "/" + k_objects;
  const std::string fresh = m_path + "/" + k_fresh_prefix + std::to_string(::getpid());
  for (const std::string& folder : {objects, fresh}) {
    if (stdfs::create_directories(folder, ec); ec) {
      throw error::IoError("cannot create " + folder + ": " + ec.message());
    }
  }
  const fs::Descriptor objects_fd(
      ::open(objects.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (objects_fd.get() < 0) {
    throw error::IoError(error::system_message("cannot open " + objects, errno));
  }
  std::vector<metadata::Entry> cached = entries;
  // The fingerprints the checks left, by path (entries' paths are unique).
  std::unordered_map<std::string_view, Fingerprint> prints;
  if (checked != nullptr) {
    for (std::size_t i = 0; i < entries.size() && i < checked->size(); ++i) {
      if ((*checked)[i]) {
        prints.emplace(entries[i].path, *(*checked)[i]);
      }
    }
  }
  // A content of the new generation that find() did not see unchanged in this run: its
  // entries (indexes into `cached`, in path order) and what became of it.
  struct Take {
    std::vector<std::size_t> entries;
    std::optional<Fingerprint> print; // the object's, once kept or taken from `root`
    bool added = false;               // a new object (removed again if the update fails)
    bool placed = false; // its object written by this update (new, or replacing a bad one)
  };
  std::vector<Take> takes;
  std::unordered_map<hash::Digest, Fingerprint, DigestHash> kept; // the new generation's
  std::vector<char> dropped;       // entries whose file in `root` was not taken
  std::vector<std::string> added;  // objects this update made
  std::vector<std::string> placed; // objects this update wrote: to be synced
  try {
    const auto by_path = [](const metadata::Entry& a, const metadata::Entry& b) {
      return a.path < b.path;
    };
    if (!std::is_sorted(cached.begin(), cached.end(), by_path)) { // a listing's CSV usually is
      std::sort(cached.begin(), cached.end(), by_path);
    }
    dropped.assign(cached.size(), 0);
    {
      std::unordered_map<hash::Digest, std::size_t, DigestHash> taking; // digest → takes index
      for (std::size_t i = 0; i < cached.size(); ++i) {
        const hash::Digest& digest = cached[i].sha256;
        if (kept.count(digest) != 0) {
          continue;
        }
        const auto recorded = m_objects.find(digest);
        // Seen unchanged by find() in this run (under the lock: no one has written it since).
        if (recorded != m_objects.end() &&
            recorded->second.seen_unchanged.load(std::memory_order_relaxed) &&
            (m_rejected.empty() ||
             m_rejected.count(objects + "/" + hash::to_hex(digest, false)) == 0)) {
          kept.emplace(digest, recorded->second.recorded);
          continue;
        }
        const auto [at, fresh_digest] = taking.emplace(digest, takes.size());
        if (fresh_digest) {
          takes.emplace_back();
        }
        takes[at->second].entries.push_back(i);
      }
    }
    added.reserve(takes.size());
    placed.reserve(takes.size());
    // Each such content is kept when its object is unchanged, else taken from the first of its
    // entries that `root` holds. Independent files: shared by a few threads.
    fs::FilePlacer placer(link == Link::hardlink);
    const auto take = [&](Take& job) {
      const hash::Digest& digest = cached[job.entries.front()].sha256;
      const std::string name = hash::to_hex(digest, false);
      const std::string object = objects + "/" + name;
      const auto recorded = m_objects.find(digest);
      const bool rejected = !m_rejected.empty() && m_rejected.count(object) != 0;
      const auto now =
          recorded == m_objects.end() ? std::nullopt : Fingerprint::of(objects_fd.get(), name);
      if (now && *now == recorded->second.recorded && !rejected) {
        job.print = now;
        return;
      }
      for (const std::size_t i : job.entries) {
        const std::string from = root + "/" + cached[i].path;
        const auto source = Fingerprint::of(from);
        if (!source) {
          dropped[i] = 1; // not in the root (left out by an item pattern)
          continue;
        }
        if (checked != nullptr) { // only the very file that was checked, unchanged since
          const auto print = prints.find(cached[i].path);
          if (print == prints.end() || print->second != *source) {
            dropped[i] = 1;
            continue;
          }
        }
        // The root's file may be the changed object itself (a hard link placed it): then,
        // unless its check's print vouches for it (above), nothing does but reading it. (Only
        // a cached object that is there can have been placed.)
        if (checked == nullptr && now && same_file(from, object) &&
            hash::FileHasher().hash_file(from).sha256 != digest) {
          dropped[i] = 1;
          continue;
        }
        job.added = !now;
        // Without a scan to do, objects/ holds no leftover part file of an earlier update.
        const fs::Placed made =
            placer.place(from, objects_fd.get(), name, fs::PlaceHints{source->size, !scan});
        const bool linked = made.method == fs::CopyMethod::hard_link;
        if (!linked && checked != nullptr && Fingerprint::of(from) != source) {
          // Written while it was copied: the copy may hold bytes no check saw.
          ::unlinkat(objects_fd.get(), name.c_str(), 0);
          dropped[i] = 1;
          continue;
        }
        // Read-only; with a hard link, the destination's file too (its print stays: a mode
        // change moves only the ctime).
        ::fchmodat(objects_fd.get(), name.c_str(), 0444, 0);
        job.placed = true;
        job.print = linked ? source : Fingerprint::of(objects_fd.get(), name);
        if (!job.print) {
          throw error::IoError("cannot cache " + cached[i].path + ": it went away");
        }
        return;
      }
    };
    std::exception_ptr failure;
    try {
      parallel::for_each_index(takes.size(), parallel::helpers_for(takes.size(), 64),
                               [&](std::size_t k) { take(takes[k]); });
    } catch (...) {
      failure = std::current_exception();
    }
    for (const auto& job : takes) {
      const hash::Digest& digest = cached[job.entries.front()].sha256;
      if (job.added) {
        added.push_back(objects + "/" + hash::to_hex(digest, false));
      }
      if (job.placed) {
        placed.push_back(objects + "/" + hash::to_hex(digest, false));
      }
      if (job.print) {
        kept.emplace(digest, *job.print);
      }
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
    // The entries whose content is cached, still in path order.
    std::size_t count = 0;
    for (std::size_t i = 0; i < cached.size(); ++i) {
      if (dropped[i] == 0 && kept.count(cached[i].sha256) != 0) {
        if (count != i) {
          cached[count] = std::move(cached[i]);
        }
        ++count;
      }
    }
    cached.resize(count);
    std::vector<Fingerprint> fingerprints;
    fingerprints.reserve(cached.size());
    for (const auto& entry : cached) {
      fingerprints.push_back(kept.at(entry.sha256));
    }
    const std::string csv = metadata::to_csv(cached);
    const std::string prints = to_text(fingerprints);
    write_file_synced(fresh + "/" + std::string(metadata::k_file_name), csv);
    write_file_synced(fresh + "/" + k_fingerprints, prints);
    // Every object reaches the disk before the marker says so: those this update wrote (the
    // others were synced by the update that wrote them), then their names.
    fs::sync_files(objects_fd.get(), placed);
    fs::sync_folder(objects);
    Poco::JSON::Object marker;
    marker.set("lastUpdatedOn", Poco::DateTimeFormatter::format(
                                    Poco::DateTime(), Poco::DateTimeFormat::ISO8601_FORMAT));
    marker.set("metadataSha256", sha256_hex(csv));
    marker.set("fingerprintsSha256", sha256_hex(prints));
    std::ostringstream json;
    marker.stringify(json);
    write_file_synced(fresh + "/" + k_marker, json.str());
  } catch (...) {
    for (const auto& object : added) {
      ::unlink(object.c_str());
    }
    stdfs::remove_all(fresh, ec);
    try {
      throw;
    } catch (const stdfs::filesystem_error& e) {
      throw error::IoError(std::string("cannot update the cache: ") + e.what());
    }
  }
  const std::string old = swap_into_place(fresh, m_path + "/" + k_current);
  fs::sync_folder(m_path);
  // Only now may objects go: those the new generation does not name. The old generation's
  // folder goes last, so that an update interrupted before that leaves a leftover, and the
  // next one scans.
  if (scan) {
    std::unordered_set<std::string> named;
    for (const auto& entry : cached) {
      named.insert(hash::to_hex(entry.sha256, false));
    }
    for (const auto& entry : stdfs::directory_iterator(objects, ec)) {
      if (named.count(entry.path().filename().string()) == 0) {
        stdfs::remove(entry.path(), ec);
      }
    }
  } else {
    for (const auto& [digest, object] : m_objects) {
      if (kept.count(digest) == 0) {
        ::unlinkat(objects_fd.get(), hash::to_hex(digest, false).c_str(), 0);
      }
    }
  }
  if (!old.empty()) {
    stdfs::remove_all(old, ec);
  }
  return cached.size();
}

} // namespace shared::cache
