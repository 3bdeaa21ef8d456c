// A stored archive laid out before anything is written: every record's offset is known, so the
// archive's exact length is known and any byte range of it can be produced on its own (HTTP
// Range requests). APPNOTE.TXT 6.3.10 §4.3.6: local header + file data per entry, central
// directory, end records; no data descriptors, since every CRC-32 is known in advance.
#pragma once

#include "shared/zip/entry.hpp"
#include "shared/zip/io.hpp"
#include "shared/zip/records.hpp"

#include <cstdint>
#include <vector>

namespace shared::zip {

/// The plan of a stored archive of entries whose sizes and CRC-32s are known. Its bytes are
/// those write_archive() writes for the same entries with Method::store. Memory: the entries
/// plus about 80 bytes each; nothing else is kept between calls. Immutable once built, so one
/// Layout may serve several write_range() calls at once (each with its own provider and sink).
class Layout {
public:
  /// Plans the archive of `entries` (prepare_entries(): sorted by name). Throws
  /// std::invalid_argument as prepare_entries() does, and when a non-empty file entry has no
  /// crc32.
  explicit Layout(std::vector<Entry> entries);

  /// The archive's exact length in bytes.
  std::uint64_t size() const { return m_size; }
  /// The entries in archive order (sorted, normalised).
  const std::vector<Entry>& entries() const { return m_entries; }
  /// Offset in bytes of entry `index`'s local header (APPNOTE §4.3.7) from the archive's start.
  std::uint64_t local_header_offset(std::size_t index) const { return m_records[index].offset; }
  /// Offset in bytes of the central directory (APPNOTE §4.3.12).
  std::uint64_t central_directory_offset() const { return m_cd_offset; }

  /// Writes bytes `first` … `last` (inclusive, 0-based offsets into the archive) to `sink`,
  /// computing headers and reading only the parts of bodies inside the range, each opened at
  /// the needed offset. A body read whole is checked against its CRC-32; a partial one against
  /// its size only. When the sink accepts files (Sink::accepts_files()), bodies that are open
  /// local files go to Sink::write_file() instead (zero-copy), checked against their size
  /// only: the CRC-32s are then the caller's (e.g. a CrcCache keyed by size and mtime). Throws
  /// std::out_of_range unless first <= last < size(); SinkClosed when the sink refuses bytes (at
  /// once, as write_archive()); error::IntegrityError naming the entry when a body ends early or
  /// does not match its CRC-32; whatever the provider and sink throw.
  void write_range(std::uint64_t first, std::uint64_t last, BodyProvider& provider,
                   Sink& sink) const;

  /// The whole archive: write_range(0, size() - 1).
  void write(BodyProvider& provider, Sink& sink) const {
    write_range(0, m_size - 1, provider, sink);
  }

private:
  std::vector<Entry> m_entries;
  std::vector<detail::Record> m_records;
  std::vector<std::uint64_t> m_central_offsets;
  std::uint64_t m_cd_offset = 0;
  std::uint64_t m_cd_size = 0;
  std::uint64_t m_size = 0;
};

} // namespace shared::zip
