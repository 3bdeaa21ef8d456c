#include "shared/cache/artifact_cache.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace shared::cache {
namespace {

namespace stdfs = std::filesystem;

const char* const k_marker = ".verify";
const char* const k_files = "files";

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

void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
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
  throw error::IoError(
      error::system_message("cannot put the new cache in place at " + current, errno));
}

} // namespace

ArtifactCache::ArtifactCache(const std::string& cache_directory, const std::string& key)
    : m_path(cache_directory + "/ArtifactEngineCache/" + hash::to_hex(hash::sha256(key), false)) {}

ArtifactCache::State ArtifactCache::open(std::string& reason) {
  m_metadata = {};
  m_by_hash.clear();
  const auto marker = read_text(m_path + "/" + k_marker);
  if (!marker) {
    reason = stdfs::exists(m_path)
                 ? "no " + std::string(k_marker) + " marker (an update did not finish)"
                 : "no cache for this key yet";
    return stdfs::exists(m_path) ? State::untrusted : State::missing;
  }
  const auto csv = read_text(m_path + "/" + std::string(metadata::k_file_name));
  try {
    const auto json = Poco::JSON::Parser().parse(*marker).extract<Poco::JSON::Object::Ptr>();
    if (!csv ||
        json->getValue<std::string>("metadataSha256") != hash::to_hex(hash::sha256(*csv), false)) {
      reason = "its .verify marker does not match its metadata";
      return State::untrusted;
    }
    m_metadata = metadata::parse_csv(*csv);
  } catch (const std::exception& e) {
    reason = std::string("unreadable cache: ") + e.what();
    return State::untrusted;
  }
  for (const auto& entry : m_metadata.entries) {
    m_by_hash.emplace(hash::to_hex(entry.sha256, false), entry.path);
  }
  return State::trusted;
}

std::optional<std::string> ArtifactCache::find(const std::string& path,
                                               const hash::Digest& sha256) const {
  const std::string base = m_path + "/" + k_files + "/";
  if (const auto* entry = m_metadata.find(path); entry != nullptr && entry->sha256 == sha256) {
    return base + path;
  }
  const auto it = m_by_hash.find(hash::to_hex(sha256, false));
  if (it != m_by_hash.end()) {
    return base + it->second;
  }
  return std::nullopt;
}

void ArtifactCache::update(const std::string& root, const std::vector<metadata::Entry>& entries) {
  const std::string fresh = m_path + ".new-" + std::to_string(::getpid());
  std::error_code ec;
  stdfs::remove_all(fresh, ec);
  stdfs::create_directories(fresh + "/" + k_files, ec);
  if (ec) {
    throw error::IoError("cannot create " + fresh + ": " + ec.message());
  }
  try {
    // Only what is in `root` is cached (an item pattern may have left files out), and the
    // cache's CSV lists exactly that.
    std::vector<metadata::Entry> cached;
    for (const auto& entry : entries) {
      const stdfs::path from = stdfs::path(root) / entry.path;
      if (!stdfs::is_regular_file(stdfs::symlink_status(from))) {
        continue;
      }
      const stdfs::path target = stdfs::path(fresh) / k_files / entry.path;
      stdfs::create_directories(target.parent_path());
      stdfs::copy_file(from, target, stdfs::copy_options::overwrite_existing);
      cached.push_back(entry);
    }
    const std::string cached_csv = metadata::to_csv(std::move(cached));
    write_file_synced(fresh + "/" + std::string(metadata::k_file_name), cached_csv);
    Poco::JSON::Object marker;
    marker.set("lastUpdatedOn", Poco::DateTimeFormatter::format(
                                    Poco::DateTime(), Poco::DateTimeFormat::ISO8601_FORMAT));
    marker.set("metadataSha256", hash::to_hex(hash::sha256(cached_csv), false));
    std::ostringstream json;
    marker.stringify(json);
    write_file_synced(fresh + "/" + k_marker, json.str());
    ::sync(); // the copied files reach the disk before the swap makes them the cache
    sync_path(fresh);
  } catch (const stdfs::filesystem_error& e) {
    stdfs::remove_all(fresh, ec);
    throw error::IoError(std::string("cannot update the cache: ") + e.what());
  } catch (...) {
    stdfs::remove_all(fresh, ec);
    throw;
  }
  const std::string old = swap_into_place(fresh, m_path);
  sync_path(stdfs::path(m_path).parent_path().string());
  if (!old.empty()) {
    stdfs::remove_all(old, ec);
  }
}

} // namespace shared::cache
