// shared/zip: every complete archive written here is read back by three independent readers
// (Info-ZIP's `unzip -t`, Python's zipfile, Poco::Zip; tests/support/zip_readers.hpp) and
// their contents compared by SHA-256.
#include "shared/error/error.hpp"
#include "shared/fs/tree_walker.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/zip/crc32.hpp"
#include "shared/zip/entry.hpp"
#include "shared/zip/io.hpp"
#include "shared/zip/layout.hpp"
#include "shared/zip/writer.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zip_readers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace zip = shared::zip;
using tests::support::check_archive;
using tests::support::k_unzip;
using tests::support::Listing;
using tests::support::PythonView;
using tests::support::read_with_python;
using tests::support::Seen;
using tests::support::sha_hex;
using tests::support::TempDir;

namespace {

constexpr std::uint64_t k_gib = std::uint64_t{1} << 30;

// --- sinks and providers ------------------------------------------------------------------

struct StringSink : zip::Sink {
  std::string data;
  std::size_t largest_write = 0;
  bool write(const char* bytes, std::size_t size) override {
    data.append(bytes, size);
    largest_write = std::max(largest_write, size);
    return true;
  }
};

// Takes local file bodies by descriptor (Sink::write_file), as a socket sink with sendfile(2)
// does, reading them with pread(2) here.
struct FileTakingSink : StringSink {
  std::uint64_t file_bytes = 0;
  bool accepts_files() const override { return true; }
  bool write_file(int fd, std::uint64_t offset, std::uint64_t count) override {
    std::string bytes(count, '\0');
    const ssize_t n = ::pread(fd, bytes.data(), count, static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(count)) {
      throw shared::error::IntegrityError("short file");
    }
    data += bytes;
    file_bytes += count;
    return true;
  }
};

// Writes to a file through zip::FdSink; closed by the destructor. Blocks of zeros become holes
// (so that archives of sparse files stay sparse and quick to write).
class FileSink : public zip::Sink {
public:
  explicit FileSink(const std::string& path)
      : m_fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)),
        m_sink(m_fd, path) {
    REQUIRE(m_fd >= 0);
  }
  ~FileSink() override {
    REQUIRE(::ftruncate(m_fd, static_cast<off_t>(written)) == 0);
    ::close(m_fd);
  }
  bool write(const char* data, std::size_t size) override {
    written += size;
    static const std::string zeros(zip::k_buffer_size, '\0');
    if (size <= zeros.size() && std::memcmp(data, zeros.data(), size) == 0) {
      if (::lseek(m_fd, static_cast<off_t>(size), SEEK_CUR) < 0) {
        throw std::runtime_error("lseek failed");
      }
      return true;
    }
    return m_sink.write(data, size);
  }
  std::uint64_t written = 0;

private:
  int m_fd;
  zip::FdSink m_sink;
};

// Bodies from memory, keyed by source_or_path(); counts the bytes handed out.
class MemoryProvider : public zip::BodyProvider {
public:
  std::map<std::string, std::string> bodies;
  std::uint64_t bytes_read = 0;
  std::size_t opens = 0;

  std::unique_ptr<zip::BodyReader> open(const zip::Entry& entry, std::uint64_t offset) override {
    ++opens;
    struct Reader : zip::BodyReader {
      const std::string& body;
      std::uint64_t pos;
      std::uint64_t& counter;
      Reader(const std::string& b, std::uint64_t p, std::uint64_t& c)
          : body(b), pos(p), counter(c) {}
      std::size_t read(char* buffer, std::size_t size) override {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(size, body.size() - pos));
        std::memcpy(buffer, body.data() + pos, n);
        pos += n;
        counter += n;
        return n;
      }
    };
    return std::make_unique<Reader>(bodies.at(entry.source_or_path()), offset, bytes_read);
  }
};

// Bodies generated on the fly: byte i of a body is pattern(i) (zero, or a cheap pseudo-random
// sequence that does not compress); counts the bytes handed out.
class PatternProvider : public zip::BodyProvider {
public:
  explicit PatternProvider(bool random) : m_random(random) {}
  std::uint64_t bytes_read = 0;

  static char byte_at(bool random, std::uint64_t i) {
    if (!random) {
      return 0;
    }
    std::uint64_t x = (i / 8 + 1) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return static_cast<char>(x >> (8 * (i % 8)));
  }
  static std::string body(bool random, std::uint64_t size) {
    std::string s(size, '\0');
    for (std::uint64_t i = 0; i < size; ++i) {
      s[i] = byte_at(random, i);
    }
    return s;
  }

  std::unique_ptr<zip::BodyReader> open(const zip::Entry& entry, std::uint64_t offset) override {
    struct Reader : zip::BodyReader {
      bool random;
      std::uint64_t pos, end;
      std::uint64_t& counter;
      Reader(bool r, std::uint64_t p, std::uint64_t e, std::uint64_t& c)
          : random(r), pos(p), end(e), counter(c) {}
      std::size_t read(char* buffer, std::size_t size) override {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, end - pos));
        if (random) {
          for (std::size_t i = 0; i < n; ++i) {
            buffer[i] = byte_at(true, pos + i);
          }
        } else {
          std::memset(buffer, 0, n);
        }
        pos += n;
        counter += n;
        return n;
      }
    };
    return std::make_unique<Reader>(m_random, offset, entry.size, bytes_read);
  }

private:
  bool m_random;
};

// Passes opens to another provider and counts the bytes read through it.
class CountingProvider : public zip::BodyProvider {
public:
  explicit CountingProvider(zip::BodyProvider& inner) : m_inner(inner) {}
  std::uint64_t bytes_read = 0;

  std::unique_ptr<zip::BodyReader> open(const zip::Entry& entry, std::uint64_t offset) override {
    struct Reader : zip::BodyReader {
      std::unique_ptr<zip::BodyReader> inner;
      std::uint64_t& counter;
      Reader(std::unique_ptr<zip::BodyReader> i, std::uint64_t& c)
          : inner(std::move(i)), counter(c) {}
      std::size_t read(char* buffer, std::size_t size) override {
        const std::size_t n = inner->read(buffer, size);
        counter += n;
        return n;
      }
    };
    return std::make_unique<Reader>(m_inner.open(entry, offset), bytes_read);
  }

private:
  zip::BodyProvider& m_inner;
};

// --- trees on disk ------------------------------------------------------------------------

void make_file(const std::string& path, std::string_view content, mode_t mode = 0644) {
  tests::support::write_file(path, content);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

void make_folder(const std::string& path) {
  std::string prefix;
  std::istringstream parts(path.substr(1));
  std::string part;
  while (std::getline(parts, part, '/')) {
    prefix += "/" + part;
    ::mkdir(prefix.c_str(), 0755);
  }
}

std::string deep_path() {
  std::string path;
  for (int i = 0; i < 30; ++i) {
    path += "level " + std::to_string(i) + "/";
  }
  return path + "deep file.txt";
}

// A tree with everything the writer must keep: hostile names, empty folders, permissions,
// a symlink, bodies around the buffer size.
void make_hostile_tree(const std::string& root) {
  make_file(root + "/with space.txt", "spaces\n");
  make_file(root + "/comma,separated,name.csv", "a,b\n1,2\n");
  make_file(root + "/ünïcödé — 日本語/ファイル.txt", "non-ASCII\n");
  make_file(root + "/emoji 🎉 & 'quotes' \"double\" #hash %percent%.bin", "symbols\n");
  make_file(root + "/-leading-dash", "dash\n");
  make_file(root + "/" + deep_path(), "deep\n");
  make_file(root + "/bin/run.sh", "#!/bin/sh\necho hi\n", 0755);
  make_file(root + "/secret.key", "secret\n", 0600);
  make_file(root + "/empty-file", "");
  make_file(root + "/big/random.bin", PatternProvider::body(true, zip::k_buffer_size * 3 + 12345));
  make_file(root + "/big/zeros.bin", std::string(zip::k_buffer_size + 1, '\0'));
  make_file(root + "/big/text.txt", [] {
    std::string text;
    for (int i = 0; text.size() < 700000; ++i) {
      text += "line " + std::to_string(i) + " of a compressible text file\n";
    }
    return text;
  }());
  make_folder(root + "/empty folder/nested empty");
  REQUIRE(::symlink("with space.txt", (root + "/link to file").c_str()) == 0);
  REQUIRE(::symlink("../bin", (root + "/big/link to folder").c_str()) == 0);
}

// The entries of the tree under `root` (folders, files, symlinks) and what readers should
// see; with CRC-32s precomputed when `with_crc`.
struct Tree {
  std::vector<zip::Entry> entries;
  Listing expected;
};

Tree tree_entries(const std::string& root, bool with_crc) {
  Tree tree;
  shared::fs::walk_tree(root, {}, [&](const shared::fs::TreeEntry& t) {
    zip::Entry entry;
    entry.path = t.path;
    entry.mtime = t.mtime_ns / 1000000000;
    entry.mode = t.mode;
    switch (t.kind) {
    case shared::fs::EntryKind::file: {
      entry.size = t.size;
      if (with_crc) {
        entry.crc32 = zip::file_crc32(AT_FDCWD, root + "/" + t.path).crc32;
      }
      const std::string content = tests::support::read_file(root + "/" + t.path);
      tree.expected[t.path] = Seen{sha_hex(content), content.size(), S_IFREG | t.mode};
      break;
    }
    case shared::fs::EntryKind::folder:
      entry.kind = zip::EntryKind::folder;
      tree.expected[t.path + "/"] = Seen{sha_hex(""), 0, S_IFDIR | t.mode};
      break;
    case shared::fs::EntryKind::symlink:
      entry.kind = zip::EntryKind::symlink;
      entry.link_target = t.link_target;
      tree.expected[t.path] = Seen{sha_hex(t.link_target), t.link_target.size(), S_IFLNK | t.mode};
      break;
    case shared::fs::EntryKind::other:
      return;
    }
    tree.entries.push_back(entry);
  });
  return tree;
}

std::string write_to_string(const std::vector<zip::Entry>& entries,
                            const zip::WriteOptions& options, zip::BodyProvider& provider) {
  StringSink sink;
  const zip::WriteResult result = zip::write_archive(entries, options, provider, sink);
  CHECK(result.archive_size == sink.data.size());
  CHECK(sink.largest_write <= zip::k_buffer_size);
  return sink.data;
}

std::uint64_t write_to_file(const std::string& path, const std::vector<zip::Entry>& entries,
                            const zip::WriteOptions& options, zip::BodyProvider& provider) {
  FileSink sink(path);
  const zip::WriteResult result = zip::write_archive(entries, options, provider, sink);
  CHECK(result.archive_size == sink.written);
  return sink.written;
}

// Little-endian fields of archive bytes.
std::uint64_t le(const std::string& bytes, std::size_t pos, int width) {
  REQUIRE(pos + width <= bytes.size());
  std::uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[pos + i]);
  }
  return v;
}

} // namespace

// --- names and entries --------------------------------------------------------------------

TEST_CASE("entry names: what check_entry_name refuses", "[zip]") {
  using zip::EntryKind;
  CHECK_FALSE(zip::check_entry_name("a/b c,d/ü.txt", EntryKind::file));
  CHECK_FALSE(zip::check_entry_name("folder/", EntryKind::folder));
  CHECK_FALSE(zip::check_entry_name("folder", EntryKind::folder));
  CHECK(zip::check_entry_name("", EntryKind::file));
  CHECK(zip::check_entry_name("/etc/passwd", EntryKind::file));
  CHECK(zip::check_entry_name("a/../b", EntryKind::file));
  CHECK(zip::check_entry_name("./a", EntryKind::file));
  CHECK(zip::check_entry_name("a//b", EntryKind::file));
  CHECK(zip::check_entry_name("a/", EntryKind::file));
  CHECK(zip::check_entry_name("a//", EntryKind::folder));
  CHECK(zip::check_entry_name("back\\slash", EntryKind::file));
  CHECK(zip::check_entry_name(std::string("nul\0byte", 8), EntryKind::file));
  CHECK(zip::check_entry_name("latin1 \xe9t\xe9", EntryKind::file));
  CHECK(zip::check_entry_name("overlong \xc0\xaf", EntryKind::file));
  CHECK(zip::check_entry_name("surrogate \xed\xa0\x80", EntryKind::file));
  CHECK(zip::check_entry_name("cut \xe6\x97", EntryKind::file));
  CHECK(zip::check_entry_name(std::string(70000, 'x'), EntryKind::file));
}

TEST_CASE("prepare_entries sorts by bytes and refuses duplicates and files used as folders",
          "[zip]") {
  std::vector<zip::Entry> entries(4);
  entries[0].path = "b";
  entries[1].path = "a/z";
  entries[2].path = "a";
  entries[2].kind = zip::EntryKind::folder;
  entries[3].path = "\xc3\xa9"; // é sorts after ASCII
  const auto sorted = zip::prepare_entries(entries);
  REQUIRE(sorted.size() == 4);
  CHECK(sorted[0].path == "a/");
  CHECK(sorted[1].path == "a/z");
  CHECK(sorted[2].path == "b");
  CHECK(sorted[3].path == "\xc3\xa9");

  auto twice = entries;
  twice.push_back(entries[0]);
  CHECK_THROWS_AS(zip::prepare_entries(twice), std::invalid_argument);
  auto folder_twice = entries;
  folder_twice.push_back(entries[2]);
  folder_twice.back().path = "a/";
  CHECK_THROWS_AS(zip::prepare_entries(folder_twice), std::invalid_argument);
  auto file_as_folder = entries;
  file_as_folder.push_back(entries[0]);
  file_as_folder.back().path = "b/c";
  CHECK_THROWS_AS(zip::prepare_entries(file_as_folder), std::invalid_argument);
  auto file_and_folder = entries;
  file_and_folder.push_back(entries[2]);
  file_and_folder.back().path = "b";
  CHECK_THROWS_AS(zip::prepare_entries(file_and_folder), std::invalid_argument);
  auto bad = entries;
  bad[0].path = "../escape";
  CHECK_THROWS_AS(zip::prepare_entries(bad), std::invalid_argument);
}

TEST_CASE("crc32 matches the check value and combines", "[zip]") {
  CHECK(zip::crc32("123456789") == 0xCBF43926u);
  CHECK(zip::crc32("") == 0u);
  CHECK(zip::crc32("6789", 4, zip::crc32("12345")) == 0xCBF43926u);
  CHECK(zip::crc32_combine(zip::crc32("12345"), zip::crc32("6789"), 4) == 0xCBF43926u);

  TempDir folder;
  const std::string body = PatternProvider::body(true, zip::k_buffer_size * 2 + 3);
  tests::support::write_file(folder / "f", body);
  const zip::FileCrc crc = zip::file_crc32(AT_FDCWD, folder / "f");
  CHECK(crc.crc32 == zip::crc32(body));
  CHECK(crc.size == body.size());
  CHECK_THROWS_AS(zip::file_crc32(AT_FDCWD, folder / "missing"), shared::error::IoError);
}

// --- whole archives, three readers --------------------------------------------------------

TEST_CASE("hostile names, empty folders, permissions and symlinks survive three readers", "[zip]") {
  TempDir folder;
  const std::string root = folder / "tree";
  make_hostile_tree(root);
  zip::LocalBodyProvider provider(root);

  struct Variant {
    const char* name;
    zip::WriteOptions options;
    bool with_crc;
  };
  const Variant variants[] = {
      {"store, CRCs precomputed", {zip::Method::store, 6}, true},
      {"store, CRCs while writing", {zip::Method::store, 6}, false},
      {"deflate level 1", {zip::Method::deflate, 1}, false},
      {"deflate level 9, CRCs given", {zip::Method::deflate, 9}, true},
  };
  for (const Variant& variant : variants) {
    DYNAMIC_SECTION(variant.name) {
      const Tree tree = tree_entries(root, variant.with_crc);
      REQUIRE(tree.expected.count(deep_path()) == 1);
      REQUIRE(tree.expected.count("empty folder/nested empty/") == 1);
      const std::string archive = folder / "out.zip";
      const std::uint64_t written = write_to_file(archive, tree.entries, variant.options, provider);
      check_archive(archive, tree.expected);
      if (variant.options.method == zip::Method::store) {
        CHECK(zip::archive_size(tree.entries, variant.options) == written);
      } else {
        CHECK_FALSE(zip::archive_size(tree.entries, variant.options));
        CHECK(written < zip::archive_size(tree.entries, {}).value()); // it did compress
      }

      // Extracted by unzip: the executable bit, the symlinks, the empty folders.
      const std::string out = folder / "extracted";
      const auto unzip = tests::support::run_process({k_unzip, "-q", archive, "-d", out});
      INFO(unzip.out << unzip.err);
      REQUIRE(unzip.exit_code == 0);
      struct stat st {};
      REQUIRE(::stat((out + "/bin/run.sh").c_str(), &st) == 0);
      CHECK((st.st_mode & 0111) == 0111);
      REQUIRE(::stat((out + "/secret.key").c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
      char target[256] = {};
      REQUIRE(::readlink((out + "/link to file").c_str(), target, sizeof target - 1) > 0);
      CHECK(std::string(target) == "with space.txt");
      CHECK(tests::support::read_file(out + "/link to file") == "spaces\n");
      REQUIRE(::stat((out + "/empty folder/nested empty").c_str(), &st) == 0);
      CHECK(S_ISDIR(st.st_mode));
      CHECK(tests::support::read_file(out + "/" + deep_path()) == "deep\n");
      CHECK(tests::support::read_file(out + "/ünïcödé — 日本語/ファイル.txt") == "non-ASCII\n");
    }
  }
}

TEST_CASE("the same entries give the same bytes, in any order", "[zip]") {
  TempDir folder;
  make_hostile_tree(folder / "tree");
  zip::LocalBodyProvider provider(folder / "tree");
  Tree tree = tree_entries(folder / "tree", true);
  for (const zip::WriteOptions options :
       {zip::WriteOptions{zip::Method::store, 6}, zip::WriteOptions{zip::Method::deflate, 6}}) {
    const std::string first = write_to_string(tree.entries, options, provider);
    std::reverse(tree.entries.begin(), tree.entries.end());
    std::mt19937 shuffle(7);
    std::shuffle(tree.entries.begin(), tree.entries.end(), shuffle);
    const std::string second = write_to_string(tree.entries, options, provider);
    CHECK(first.size() == second.size());
    CHECK(first == second);
  }
}

TEST_CASE("timestamps come from the entries: DOS time in UTC and the extended timestamp", "[zip]") {
  TempDir folder;
  MemoryProvider provider;
  std::vector<zip::Entry> entries;
  const auto add = [&](const std::string& name, std::int64_t mtime) {
    zip::Entry entry;
    entry.path = name;
    entry.mtime = mtime;
    entry.size = name.size();
    provider.bodies[name] = name;
    entries.push_back(entry);
  };
  add("odd-second", 1700000001); // 2023-11-14T22:13:21Z
  add("before-1980", 86400);     // clamped to 1980-01-01 in the DOS fields
  add("after-2038", 4102444800); // 2100-01-01T00:00:00Z: no 32-bit extended timestamp
  zip::Entry folder_entry;
  folder_entry.path = "folder";
  folder_entry.kind = zip::EntryKind::folder;
  folder_entry.mtime = 1600000000; // 2020-09-13T12:26:40Z
  folder_entry.mode = 0755;
  entries.push_back(folder_entry);

  const std::string archive = folder / "times.zip";
  write_to_file(archive, entries, {}, provider);
  const PythonView python = read_with_python(archive);
  CHECK(python.dates.at("odd-second") == "2023-11-14T22:13:20");
  CHECK(python.dates.at("before-1980") == "1980-01-01T00:00:00");
  CHECK(python.dates.at("after-2038") == "2100-01-01T00:00:00");
  CHECK(python.dates.at("folder/") == "2020-09-13T12:26:40");
  Listing expected;
  for (const auto& [name, body] : provider.bodies) {
    expected[name] = Seen{sha_hex(body), body.size(), S_IFREG | 0644};
  }
  expected["folder/"] = Seen{sha_hex(""), 0, S_IFDIR | 0755};
  check_archive(archive, expected);

  // unzip sets the exact second from the extended timestamp.
  const auto unzip =
      tests::support::run_process({k_unzip, "-q", archive, "odd-second", "-d", folder / "x"});
  REQUIRE(unzip.exit_code == 0);
  struct stat st {};
  REQUIRE(::stat((folder / "x/odd-second").c_str(), &st) == 0);
  CHECK(st.st_mtime == 1700000001);
}

// --- exact length and ranges --------------------------------------------------------------

TEST_CASE("Layout: exact length up front, same bytes as the writer, any range on its own",
          "[zip]") {
  TempDir folder;
  const std::string root = folder / "tree";
  make_hostile_tree(root);
  for (const std::uint64_t size : {std::uint64_t{1}, std::uint64_t{100}, zip::k_buffer_size - 1,
                                   zip::k_buffer_size, zip::k_buffer_size * 2 + 7}) {
    make_file(root + "/sizes/" + std::to_string(size), PatternProvider::body(true, size));
  }
  zip::LocalBodyProvider local(root);
  const Tree tree = tree_entries(root, true);
  const zip::Layout layout(tree.entries);

  StringSink full;
  layout.write(local, full);
  CHECK(full.data.size() == layout.size());
  CHECK(full.largest_write <= zip::k_buffer_size);
  CHECK(zip::archive_size(tree.entries, {}) == layout.size());
  CHECK(write_to_string(tree.entries, {}, local) == full.data);
  CHECK(layout.central_directory_offset() < layout.size());
  {
    const std::string archive = folder / "layout.zip";
    FileSink file(archive);
    layout.write(local, file);
    CHECK(file.written == layout.size());
  }
  check_archive(folder / "layout.zip", tree.expected);

  const auto check_range = [&](std::uint64_t first, std::uint64_t last) {
    INFO("range " << first << "-" << last << " of " << layout.size());
    CountingProvider counting(local);
    StringSink part;
    layout.write_range(first, last, counting, part);
    CHECK(part.data == full.data.substr(first, last - first + 1));
    CHECK(counting.bytes_read <= last - first + 1);
  };
  // Every record boundary, one byte either side, short and long ranges across it.
  std::vector<std::uint64_t> edges{0, layout.central_directory_offset(), layout.size() - 22,
                                   layout.size() - 1};
  for (std::size_t i = 0; i < layout.entries().size(); ++i) {
    edges.push_back(layout.local_header_offset(i));
    edges.push_back(layout.local_header_offset(i) + 30 + layout.entries()[i].path.size());
  }
  for (const std::uint64_t edge : edges) {
    for (const std::uint64_t first : {edge == 0 ? 0 : edge - 1, edge, edge + 1}) {
      for (const std::uint64_t length : {1, 2, 40, 100000}) {
        if (first < layout.size()) {
          check_range(first, std::min(first + length - 1, layout.size() - 1));
        }
      }
    }
  }
  std::mt19937_64 random(42);
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t first = random() % layout.size();
    const std::uint64_t length = i % 3 == 0 ? random() % 64 + 1 : random() % layout.size() + 1;
    check_range(first, std::min(first + length - 1, layout.size() - 1));
  }
  check_range(0, layout.size() - 1);

  // A sink that takes files by descriptor gets the same bytes, bodies not copied.
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t first = i == 0 ? 0 : random() % layout.size();
    const std::uint64_t last =
        i == 0 ? layout.size() - 1 : std::min(layout.size() - 1, first + random() % 700000);
    INFO("file-taking range " << first << "-" << last);
    FileTakingSink part;
    layout.write_range(first, last, local, part);
    CHECK(part.data == full.data.substr(first, last - first + 1));
    if (i == 0) {
      CHECK(part.file_bytes > zip::k_buffer_size * 2);
    }
  }

  CHECK_THROWS_AS(layout.write_range(5, 4, local, full), std::out_of_range);
  CHECK_THROWS_AS(layout.write_range(0, layout.size(), local, full), std::out_of_range);
}

TEST_CASE("Layout needs every CRC-32, and an empty archive is its end record", "[zip]") {
  zip::Entry entry;
  entry.path = "no-crc";
  entry.size = 3;
  CHECK_THROWS_AS(zip::Layout({entry}), std::invalid_argument);
  entry.size = 0; // an empty body's CRC is known
  CHECK_NOTHROW(zip::Layout({entry}));

  TempDir folder;
  const zip::Layout empty({});
  CHECK(empty.size() == 22);
  MemoryProvider provider;
  {
    FileSink file(folder / "empty.zip");
    empty.write(provider, file);
  }
  check_archive(folder / "empty.zip", {});
}

TEST_CASE("ZIP64 fields for sizes and offsets past 4 GiB, laid out without reading bodies",
          "[zip]") {
  std::vector<zip::Entry> entries(3);
  entries[0].path = "big.bin";
  entries[0].size = 5 * k_gib;
  entries[0].crc32 = 0x12345678;
  entries[1].path = "small.txt";
  entries[1].size = 3;
  entries[1].crc32 = zip::crc32("abc");
  entries[2].path = "z folder";
  entries[2].kind = zip::EntryKind::folder;
  const zip::Layout layout(entries);
  CHECK(zip::archive_size(entries, {}) == layout.size());
  MemoryProvider none; // any body read would throw: bodies is empty

  // big.bin's local header: sizes 0xFFFFFFFF, ZIP64 extra field with both, version 4.5.
  StringSink local;
  layout.write_range(0, 30 + 7 + 20 + 9 - 1, none, local);
  CHECK(le(local.data, 0, 4) == 0x04034b50);
  CHECK(le(local.data, 4, 2) == 45);
  CHECK(le(local.data, 6, 2) == 0x0800); // UTF-8, no data descriptor
  CHECK(le(local.data, 14, 4) == 0x12345678);
  CHECK(le(local.data, 18, 4) == 0xFFFFFFFF);
  CHECK(le(local.data, 22, 4) == 0xFFFFFFFF);
  CHECK(le(local.data, 28, 2) == 20 + 9);
  CHECK(le(local.data, 37, 2) == 1);
  CHECK(le(local.data, 39, 2) == 16);
  CHECK(le(local.data, 41, 8) == 5 * k_gib);
  CHECK(le(local.data, 49, 8) == 5 * k_gib);
  CHECK(le(local.data, 57, 2) == 0x5455);

  // small.txt starts past 4 GiB: its local header carries ZIP64 sizes too.
  const std::uint64_t small_offset = layout.local_header_offset(1);
  CHECK(small_offset == 30 + 7 + 20 + 9 + 5 * k_gib);
  StringSink small;
  layout.write_range(small_offset, small_offset + 29, none, small);
  CHECK(le(small.data, 4, 2) == 45);
  CHECK(le(small.data, 18, 4) == 0xFFFFFFFF);

  // The central directory and end records.
  StringSink tail;
  layout.write_range(layout.central_directory_offset(), layout.size() - 1, none, tail);
  CHECK(none.opens == 0);
  const std::string& t = tail.data;
  std::size_t pos = 0;
  // big.bin: ZIP64 sizes, 32-bit offset 0.
  CHECK(le(t, pos, 4) == 0x02014b50);
  CHECK(le(t, pos + 4, 2) == 0x033F); // made by Unix, APPNOTE 6.3
  CHECK(le(t, pos + 20, 4) == 0xFFFFFFFF);
  CHECK(le(t, pos + 24, 4) == 0xFFFFFFFF);
  CHECK(le(t, pos + 30, 2) == 20 + 9);
  CHECK(le(t, pos + 38, 4) == (S_IFREG | 0644u) << 16);
  CHECK(le(t, pos + 42, 4) == 0);
  CHECK(le(t, pos + 46 + 7 + 4, 8) == 5 * k_gib);
  pos += 46 + 7 + 20 + 9;
  // small.txt: ZIP64 sizes and offset.
  CHECK(le(t, pos, 4) == 0x02014b50);
  CHECK(le(t, pos + 30, 2) == 28 + 9);
  CHECK(le(t, pos + 42, 4) == 0xFFFFFFFF);
  CHECK(le(t, pos + 46 + 9, 2) == 1);
  CHECK(le(t, pos + 46 + 9 + 2, 2) == 24);
  CHECK(le(t, pos + 46 + 9 + 4, 8) == 3);
  CHECK(le(t, pos + 46 + 9 + 12, 8) == 3);
  CHECK(le(t, pos + 46 + 9 + 20, 8) == small_offset);
  pos += 46 + 9 + 28 + 9;
  // "z folder/": the offset only, sizes 0 in 32 bits.
  CHECK(le(t, pos, 4) == 0x02014b50);
  CHECK(le(t, pos + 20, 4) == 0);
  CHECK(le(t, pos + 30, 2) == 12);
  CHECK(le(t, pos + 38, 4) == (((S_IFDIR | 0644u) << 16) | 0x10));
  CHECK(le(t, pos + 42, 4) == 0xFFFFFFFF);
  CHECK(le(t, pos + 46 + 9 + 4, 8) == layout.local_header_offset(2));
  pos += 46 + 9 + 12;
  // ZIP64 end record, locator, end record.
  const std::uint64_t cd_size = pos;
  CHECK(le(t, pos, 4) == 0x06064b50);
  CHECK(le(t, pos + 4, 8) == 44);
  CHECK(le(t, pos + 24, 8) == 3);
  CHECK(le(t, pos + 32, 8) == 3);
  CHECK(le(t, pos + 40, 8) == cd_size);
  CHECK(le(t, pos + 48, 8) == layout.central_directory_offset());
  pos += 56;
  CHECK(le(t, pos, 4) == 0x07064b50);
  CHECK(le(t, pos + 8, 8) == layout.central_directory_offset() + cd_size);
  CHECK(le(t, pos + 16, 4) == 1);
  pos += 20;
  CHECK(le(t, pos, 4) == 0x06054b50);
  CHECK(le(t, pos + 10, 2) == 3);
  CHECK(le(t, pos + 12, 4) == cd_size);
  CHECK(le(t, pos + 16, 4) == 0xFFFFFFFF);
  CHECK(pos + 22 == t.size());
}

// --- failures -----------------------------------------------------------------------------

TEST_CASE("a sink that fails stops the writer within one buffer", "[zip]") {
  // Sink accepting `limit` bytes, then refusing (or throwing); records how many body bytes the
  // provider had handed out when it failed.
  struct FailingSink : zip::Sink {
    std::uint64_t limit;
    bool throws;
    const std::uint64_t& provider_count;
    std::uint64_t accepted = 0;
    std::uint64_t read_at_failure = 0;
    bool failed = false;
    FailingSink(std::uint64_t l, bool t, const std::uint64_t& c)
        : limit(l), throws(t), provider_count(c) {}
    bool write(const char*, std::size_t size) override {
      REQUIRE_FALSE(failed);
      REQUIRE(size <= zip::k_buffer_size);
      if (accepted + size > limit) {
        failed = true;
        read_at_failure = provider_count;
        if (throws) {
          throw std::runtime_error("the reader went away");
        }
        return false;
      }
      accepted += size;
      return true;
    }
  };

  std::vector<zip::Entry> entries(2);
  entries[0].path = "a-big.bin";
  entries[0].size = 64 * zip::k_buffer_size; // 16 MiB
  entries[1].path = "b-after.bin";
  entries[1].size = 1000;
  const std::string body = PatternProvider::body(true, entries[0].size);
  entries[0].crc32 = zip::crc32(body);
  entries[1].crc32 = zip::crc32(PatternProvider::body(true, 1000));

  for (const bool throws : {false, true}) {
    for (const std::uint64_t limit : {std::uint64_t{0}, std::uint64_t{100},
                                      3 * zip::k_buffer_size + 5, 40 * zip::k_buffer_size}) {
      for (const int how : {0, 1, 2}) { // store, deflate level 1, Layout
        INFO("throws " << throws << " limit " << limit << " how " << how);
        PatternProvider provider(true);
        FailingSink sink(limit, throws, provider.bytes_read);
        const auto run = [&] {
          if (how == 2) {
            zip::Layout(entries).write(provider, sink);
          } else {
            zip::write_archive(entries, {how == 0 ? zip::Method::store : zip::Method::deflate, 1},
                               provider, sink);
          }
        };
        if (throws) {
          CHECK_THROWS_AS(run(), std::runtime_error);
        } else {
          CHECK_THROWS_AS(run(), zip::SinkClosed);
        }
        CHECK(sink.failed);
        CHECK(provider.bytes_read == sink.read_at_failure); // nothing read after the failure
        // Read but not delivered: at most one buffer (deflate: its input buffer, its output
        // buffer and zlib's pending output).
        const std::uint64_t slack = (how == 1 ? 3 : 1) * zip::k_buffer_size;
        CHECK(provider.bytes_read <= sink.accepted + slack);
      }
    }
  }
}

TEST_CASE("bodies that changed are errors, not silently wrong archives", "[zip]") {
  MemoryProvider provider;
  provider.bodies["f"] = "short";
  zip::Entry entry;
  entry.path = "f";
  entry.size = 10;
  StringSink sink;
  for (const zip::Method method : {zip::Method::store, zip::Method::deflate}) {
    CHECK_THROWS_AS(zip::write_archive({entry}, {method, 6}, provider, sink),
                    shared::error::IntegrityError);
  }
  entry.size = 5;
  entry.crc32 = zip::crc32("other");
  for (const zip::Method method : {zip::Method::store, zip::Method::deflate}) {
    CHECK_THROWS_AS(zip::write_archive({entry}, {method, 6}, provider, sink),
                    shared::error::IntegrityError);
  }
  CHECK_THROWS_AS(zip::Layout({entry}).write(provider, sink), shared::error::IntegrityError);
  CHECK_THROWS_AS(zip::write_archive({entry}, {zip::Method::deflate, 0}, provider, sink),
                  std::invalid_argument);

  // A local file whose size is no longer the listed one.
  TempDir folder;
  tests::support::write_file(folder / "tree/grown", "now longer");
  zip::LocalBodyProvider local(folder / "tree");
  entry.path = "grown";
  entry.size = 3;
  entry.crc32.reset();
  CHECK_THROWS_AS(zip::write_archive({entry}, {}, local, sink), shared::error::IntegrityError);
}

TEST_CASE("LocalBodyProvider follows no symlink and opens only regular files", "[zip]") {
  TempDir folder;
  tests::support::write_file(folder / "outside/secret", "secret");
  tests::support::write_file(folder / "tree/real/file", "file");
  REQUIRE(::symlink("real", (folder / "tree/folder-link").c_str()) == 0);
  REQUIRE(::symlink("../outside/secret", (folder / "tree/file-link").c_str()) == 0);
  REQUIRE(::symlink("../outside", (folder / "tree/out").c_str()) == 0);
  REQUIRE(::mkfifo((folder / "tree/fifo").c_str(), 0644) == 0);
  zip::LocalBodyProvider local(folder / "tree");
  const auto open_entry = [&](const std::string& path, std::uint64_t size) {
    zip::Entry entry;
    entry.path = path;
    entry.size = size;
    return local.open(entry, 0);
  };
  char buffer[16];
  CHECK(open_entry("real/file", 4)->read(buffer, sizeof buffer) == 4);
  CHECK_THROWS_AS(open_entry("folder-link/file", 4), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("file-link", 6), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("out/secret", 6), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("../outside/secret", 6), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("fifo", 0), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("real", 0), shared::error::IoError);
  CHECK_THROWS_AS(open_entry("missing", 0), shared::error::IoError);
  try {
    open_entry("folder-link/file", 4);
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("folder-link/file") != std::string::npos);
  }
  // source names the file when the archive name differs.
  zip::Entry renamed;
  renamed.path = "top/renamed";
  renamed.source = "real/file";
  renamed.size = 4;
  renamed.crc32 = zip::crc32("file");
  const std::string archive = folder / "renamed.zip";
  write_to_file(archive, {renamed}, {}, local);
  check_archive(archive, {{"top/renamed", Seen{sha_hex("file"), 4, S_IFREG | 0644}}});
  CHECK_THROWS_AS(zip::LocalBodyProvider(folder / "missing"), shared::error::IoError);
}

// --- many entries, big files --------------------------------------------------------------

TEST_CASE("70,000 entries: ZIP64 end records", "[zip]") {
  TempDir folder;
  MemoryProvider provider;
  std::vector<zip::Entry> entries;
  Listing expected;
  for (int n = 0; n < 700; ++n) {
    zip::Entry folder_entry;
    folder_entry.kind = zip::EntryKind::folder;
    folder_entry.path = "folder " + std::to_string(n);
    folder_entry.mode = 0755;
    folder_entry.mtime = 1700000000;
    entries.push_back(folder_entry);
    expected[folder_entry.path + "/"] = Seen{sha_hex(""), 0, S_IFDIR | 0755};
    for (int file = 0; file < 100; ++file) {
      zip::Entry entry;
      entry.path = folder_entry.path + "/file " + std::to_string(file) + ".txt";
      const std::string body = "body of " + entry.path + "\n";
      entry.size = body.size();
      entry.mtime = 1700000000 + file;
      if (file % 2 == 0) {
        entry.crc32 = zip::crc32(body);
      }
      provider.bodies[entry.path] = body;
      expected[entry.path] = Seen{sha_hex(body), body.size(), S_IFREG | 0644};
      entries.push_back(entry);
    }
  }
  REQUIRE(entries.size() == 70700);
  const std::string archive = folder / "many.zip";
  const std::uint64_t written = write_to_file(archive, entries, {}, provider);
  CHECK(zip::archive_size(entries, {}) == written);
  check_archive(archive, expected);

  // The end records: 0xFFFF in the 16-bit counts, the real count in the ZIP64 record.
  const std::string bytes = tests::support::read_file(archive);
  const std::size_t end = bytes.size() - 22;
  CHECK(le(bytes, end, 4) == 0x06054b50);
  CHECK(le(bytes, end + 8, 2) == 0xFFFF);
  CHECK(le(bytes, end + 10, 2) == 0xFFFF);
  CHECK(le(bytes, end - 20, 4) == 0x07064b50);
  CHECK(le(bytes, end - 20 - 56, 4) == 0x06064b50);
  CHECK(le(bytes, end - 20 - 56 + 32, 8) == 70700);
}

namespace {

// Temporary folders on tmpfs while it lives, where it exists: reading a hole of a sparse file
// there costs no page allocation, so 4 GiB of zeros read several times faster than on ext4.
class TmpfsTempFolders {
public:
  TmpfsTempFolders() {
    if (const char* old = std::getenv("TMPDIR")) {
      m_old = old;
    }
    struct stat st {};
    if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0) {
      ::setenv("TMPDIR", "/dev/shm", 1);
    }
  }
  ~TmpfsTempFolders() {
    if (m_old) {
      ::setenv("TMPDIR", m_old->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  TmpfsTempFolders(const TmpfsTempFolders&) = delete;
  TmpfsTempFolders& operator=(const TmpfsTempFolders&) = delete;

private:
  std::optional<std::string> m_old;
};

// The CRC-32 of `size` zero bytes, by combining powers of two (no pass over the bytes).
std::uint32_t crc32_of_zeros(std::uint64_t size) {
  std::uint32_t result = 0;
  std::uint64_t done = 0;
  std::uint32_t power = zip::crc32(std::string(1, '\0')); // of 2^k zeros
  for (std::uint64_t bit = 1; bit <= size; bit <<= 1) {
    if ((size & bit) != 0) {
      result = zip::crc32_combine(result, power, bit);
      done += bit;
    }
    power = zip::crc32_combine(power, power, bit);
  }
  REQUIRE(done == size);
  return result;
}

std::string sha256_of_zeros_between(std::string_view head, std::uint64_t zeros,
                                    std::string_view tail) {
  shared::hash::Sha256 hasher;
  hasher.update(head.data(), head.size());
  const std::string block(zip::k_buffer_size * 4, '\0');
  for (std::uint64_t left = zeros; left > 0;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
    hasher.update(block.data(), n);
    left -= n;
  }
  hasher.update(tail.data(), tail.size());
  return shared::hash::to_hex(hasher.finish(), false);
}

} // namespace

// About 40 s (unzip -t alone reads 4 GiB for 20 s): hidden, run with "[zip-long]".
TEST_CASE("a sparse file over 4 GiB, stored: ZIP64 fields", "[.][zip-long]") {
  const TmpfsTempFolders on_tmpfs;
  TempDir folder;
  const std::string head = "head of the big file";
  const std::string tail = "tail of the big file";
  const std::uint64_t zeros = 4 * k_gib + 1000;
  const std::uint64_t size = head.size() + zeros + tail.size();
  make_folder(folder / "tree");
  const int fd = ::open((folder / "tree/big.bin").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
  REQUIRE(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(head.size() + zeros)) ==
          static_cast<ssize_t>(tail.size()));
  ::close(fd);
  tests::support::write_file(folder / "tree/z-after.txt", "after the big one\n");

  std::vector<zip::Entry> entries(2);
  entries[0].path = "big.bin";
  entries[0].size = size;
  entries[0].crc32 =
      zip::crc32_combine(zip::crc32_combine(zip::crc32(head), crc32_of_zeros(zeros), zeros),
                         zip::crc32(tail), tail.size());
  entries[1].path = "z-after.txt";
  entries[1].size = 18;
  entries[1].crc32 = zip::crc32("after the big one\n");
  const Listing expected{
      {"big.bin", Seen{sha256_of_zeros_between(head, zeros, tail), size, S_IFREG | 0644}},
      {"z-after.txt", Seen{sha_hex("after the big one\n"), 18, S_IFREG | 0644}}};

  zip::LocalBodyProvider local(folder / "tree");
  const zip::Layout layout(entries);
  const std::string archive = folder / "big.zip";
  {
    FileSink file(archive);
    layout.write(local, file);
    CHECK(file.written == layout.size());
  }
  check_archive(archive, expected);
  // A range past 4 GiB equals the same bytes of the file.
  StringSink range;
  const std::uint64_t first = layout.size() - 300;
  layout.write_range(first, layout.size() - 1, local, range);
  std::ifstream in(archive, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(first));
  std::string expected_tail(300, '\0');
  in.read(expected_tail.data(), 300);
  CHECK(range.data == expected_tail);
}

// About 40 s: hidden, run with "[zip-long]".
TEST_CASE("a generated body over 4 GiB, deflated: ZIP64 sizes and data descriptor",
          "[.][zip-long]") {
  // Zeros generated in memory (no disk): ZIP64 sizes in the local header, since the deflate
  // bound passes 4 GiB, and an 8-byte data descriptor.
  const TmpfsTempFolders on_tmpfs;
  TempDir folder;
  const std::uint64_t zeros = 4 * k_gib + 1000;
  std::vector<zip::Entry> generated(1);
  generated[0].path = "zeros.bin";
  generated[0].size = zeros;
  PatternProvider zero_provider(false);
  const std::string deflated = folder / "deflated.zip";
  write_to_file(deflated, generated, {zip::Method::deflate, 1}, zero_provider);
  check_archive(deflated, {{"zeros.bin",
                            Seen{sha256_of_zeros_between("", zeros, ""), zeros, S_IFREG | 0644}}});
}
