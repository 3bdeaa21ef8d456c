#include "shared/source/file_source.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/open_beneath.hpp"
#include "shared/fs/read_loop.hpp"
#include "shared/fs/tree_walker.hpp"
#include "shared/http/url.hpp"
#include "shared/log/limited_warnings.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::source {
namespace {

constexpr std::size_t k_read_size = 256 * 1024;

// Reads the items of one FileSource: each opened by its path beneath the source's root folder,
// following no symlink (fs::open_beneath).
class FileReader : public Reader {
public:
  explicit FileReader(const std::string& root)
      : m_root(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
        m_root_errno(m_root.valid() ? 0 : errno), m_buffer(new char[k_read_size]) {}

  void fetch(const Item& item, http::BodySink& sink) override {
    const fs::Descriptor file = open_regular(item);
    start(item, sink);
    fs::read_to_end(file.get(), m_buffer.get(), k_read_size, item.location,
                    [&sink](const char* data, std::size_t size) { sink.write(data, size); });
  }

  void fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                   http::BodySink& sink) override {
    const fs::Descriptor file = open_regular(item);
    start(item, sink);
    while (length > 0) {
      const ssize_t n =
          ::pread(file.get(), m_buffer.get(), std::min<std::uint64_t>(length, k_read_size),
                  static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        throw error::IoError(error::system_message("cannot read " + item.location, errno));
      }
      if (n == 0) {
        throw error::IoError("cannot read " + item.location + ": it ended before byte " +
                             std::to_string(offset));
      }
      sink.write(m_buffer.get(), static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
    }
  }

private:
  // Never through a symlink, never out of the root, never blocking on a FIFO: only regular
  // files.
  fs::Descriptor open_regular(const Item& item) const {
    if (!m_root.valid()) {
      throw error::IoError(error::system_message("cannot open " + item.location, m_root_errno));
    }
    fs::Descriptor file = fs::open_beneath(m_root.get(), item.path, O_RDONLY | O_NONBLOCK);
    if (!file.valid() && fs::refused_beneath(errno)) {
      throw error::IoError("cannot open " + item.location +
                           ": a symlink on the way or a path out of the source, not followed");
    }
    if (!file.valid()) {
      throw error::IoError(error::system_message("cannot open " + item.location, errno));
    }
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      throw error::IoError("cannot read " + item.location + ": not a regular file");
    }
    return file;
  }

  static void start(const Item& item, http::BodySink& sink) {
    http::Response response;
    response.status = 200;
    response.url = item.location;
    sink.start(response);
  }

  fs::Descriptor m_root;
  int m_root_errno;
  std::unique_ptr<char[]> m_buffer;
};

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

} // namespace

std::string path_from_file_url(const std::string& location) {
  const std::string prefix = "file://";
  if (location.compare(0, prefix.size(), prefix) != 0) {
    return location;
  }
  std::string rest = location.substr(prefix.size());
  if (rest.compare(0, 9, "localhost") == 0) {
    rest.erase(0, 9);
  }
  return http::decode_percent(rest);
}

FileSource::FileSource(std::string root, log::Logger& logger)
    : m_root(std::move(root)), m_logger(logger) {
  while (m_root.size() > 1 && m_root.back() == '/') {
    m_root.pop_back();
  }
}

std::string FileSource::cache_key() const {
  char* resolved = ::realpath(m_root.c_str(), nullptr);
  if (resolved == nullptr) {
    return m_root;
  }
  std::string key(resolved);
  std::free(resolved);
  return key;
}

Listing FileSource::list() {
  Listing listing;
  listing.method = "folder walk";
  std::set<std::string> folders;
  std::set<std::string> parents;
  log::LimitedWarnings warnings(m_logger, 10);
  fs::walk_tree(m_root, {}, [&](const fs::TreeEntry& entry) {
    parents.insert(parent_of(entry.path));
    switch (entry.kind) {
    case fs::EntryKind::folder:
      folders.insert(entry.path);
      return;
    case fs::EntryKind::file:
      listing.items.push_back(
          {entry.path, entry.size, std::nullopt, m_root + "/" + entry.path, false, nullptr});
      return;
    case fs::EntryKind::symlink:
      warnings.warn("skipped symlink " + entry.path + " -> " + entry.link_target +
                    " in the source");
      return;
    case fs::EntryKind::other:
      warnings.warn("skipped " + entry.path + " in the source: not a regular file");
      return;
    }
  });
  warnings.finish("source entries skipped");
  for (const auto& folder : folders) {
    if (parents.count(folder) == 0) {
      listing.items.push_back(
          {folder, std::nullopt, std::nullopt, m_root + "/" + folder, true, nullptr});
    }
  }

  const std::string csv_path = m_root + "/" + std::string(metadata::k_file_name);
  struct stat st {};
  if (::stat(csv_path.c_str(), &st) == 0) {
    try {
      const metadata::Metadata metadata = metadata::read_csv_file(csv_path);
      for (Item& item : listing.items) {
        if (const metadata::Entry* entry = metadata.find(item.path)) {
          item.sha256 = entry->sha256;
        }
      }
      std::set<std::string> on_disk;
      for (const Item& item : listing.items) {
        on_disk.insert(item.path);
      }
      for (const metadata::Entry& entry : metadata.entries) {
        if (on_disk.count(entry.path) == 0) { // listed but missing: its fetch will say so
          listing.items.push_back(
              {entry.path, std::nullopt, entry.sha256, m_root + "/" + entry.path, false, nullptr});
        }
      }
      listing.has_metadata = true;
      listing.method = "folder walk + artifact-metadata.csv";
    } catch (const error::Error& e) {
      m_logger.warning(std::string("hashes not used: ") + e.what());
    }
  }
  return listing;
}

std::unique_ptr<Reader> FileSource::open_reader() {
  return std::make_unique<FileReader>(m_root);
}

} // namespace shared::source
