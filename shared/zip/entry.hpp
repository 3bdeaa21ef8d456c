// What goes into a ZIP archive: one Entry per file, folder or symlink, and the rules the writer
// applies to them before writing (name checks, byte-order sorting).
//
// The format is PKWARE's APPNOTE.TXT 6.3.10; sections are cited as "APPNOTE §4.x.y".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shared::zip {

/// What an entry is. The kind gives the file-type bits of the Unix mode kept in the external
/// attributes (APPNOTE §4.4.15): S_IFREG, S_IFDIR or S_IFLNK.
enum class EntryKind {
  file,    ///< a regular file; its body comes from a BodyProvider
  folder,  ///< a folder; no body, its name ends with "/" (APPNOTE §4.4.17.1), kept when empty
  symlink, ///< a symbolic link; its body is the link target (the Info-ZIP convention)
};

/// Compression methods (APPNOTE §4.4.5).
enum class Method : std::uint16_t {
  store = 0,   ///< no compression
  deflate = 8, ///< raw deflate (RFC 1951), zlib
};

/// One entry of an archive.
struct Entry {
  /// The name in the archive: UTF-8, relative, "/" separators (APPNOTE §4.4.17.1). A
  /// folder's name gets a trailing "/" when it has none. See check_entry_name().
  std::string path;
  EntryKind kind = EntryKind::file;
  /// File entries: the body's length in bytes, known before writing (it decides ZIP64 and the
  /// archive's layout). A body that ends sooner is an error; a longer one is cut at `size`.
  /// Ignored for folders (0) and symlinks (the target's length).
  std::uint64_t size = 0;
  /// File entries: the CRC-32 of the body when known before writing (see file_crc32()). With
  /// it, a stored entry needs no data descriptor and can be part of a Layout; the writer still
  /// checks it against the bytes it reads.
  std::optional<std::uint32_t> crc32;
  /// Modification time, seconds since 1970-01-01 UTC. Written as MS-DOS date and time in UTC
  /// (APPNOTE §4.4.6; clamped to 1980–2107) and as the Info-ZIP extended timestamp 0x5455
  /// (APPNOTE §4.6.1) when it fits 32 signed bits and the entry is not a folder (Poco::Zip
  /// 1.11 misreads a folder's local extra field; both headers are kept alike).
  std::int64_t mtime = 0;
  /// Unix permission bits (07777); the type bits come from `kind`.
  std::uint32_t mode = 0644;
  /// Symlink entries: the link target, stored as the body.
  std::string link_target;
  /// File entries: what the BodyProvider opens (for LocalBodyProvider a path relative to its
  /// root). Empty means `path`.
  std::string source;

  /// `source`, or `path` when `source` is empty.
  const std::string& source_or_path() const { return source.empty() ? path : source; }
};

/// Why `name` cannot be the name of an entry of `kind`, or nullopt when it can. A name must be
/// non-empty valid UTF-8 of at most 65,535 bytes, relative (no leading "/"), without NUL or
/// backslash (readers take "\" as a separator), empty, "." or ".." segments; only folder
/// names may end with "/". Callers filtering a tree use it to skip what the writer refuses.
std::optional<std::string> check_entry_name(std::string_view name, EntryKind kind);

/// Normalises and sorts `entries` as the writers do: folder names get their trailing "/",
/// symlink sizes become their target's length, then entries are sorted by name in byte order
/// (so the same tree gives the same archive). Throws std::invalid_argument naming the entry
/// when check_entry_name() refuses a name, when two entries have the same name, or when a file
/// or symlink name is also used as a folder by another entry ("a" and "a/b").
std::vector<Entry> prepare_entries(std::vector<Entry> entries);

} // namespace shared::zip
