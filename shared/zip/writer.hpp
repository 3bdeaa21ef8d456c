// The streaming ZIP writer: a whole archive from a list of entries, in one pass, in bounded
// memory, to a Sink that may fail at any time. Written against PKWARE's APPNOTE.TXT 6.3.10
// (§4.3.6 overall format: local header, file data, optional data descriptor per entry, then
// the central directory and its end records).
//
// For stored entries with precomputed CRCs, Layout (layout.hpp) gives the same bytes and can
// also say the length up front and write any byte range.
#pragma once

#include "shared/zip/entry.hpp"
#include "shared/zip/io.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace shared::zip {

/// How write_archive() compresses file bodies.
struct WriteOptions {
  /// store (the default) or deflate. Folders, symlinks and empty files are always stored.
  Method method = Method::store;
  /// zlib compression level for deflate, 1 (fastest) … 9 (smallest).
  int level = 6;
};

/// What write_archive() wrote.
struct WriteResult {
  std::uint64_t archive_size = 0; ///< bytes handed to the sink
  std::uint64_t entries = 0;      ///< entries in the archive
};

/// Writes the archive of `entries` to `sink`: prepare_entries() (sorted by name, so the same
/// entries give the same bytes), then per entry its local header (APPNOTE §4.3.7), its body
/// (bodies of files from `provider`, read into a k_buffer_size buffer and CRC-32'd with zlib,
/// deflated with zlib at `options.level` when options.method is deflate) and, when the CRC or
/// compressed size was not known before the body (§4.4.4 bit 3), a data descriptor (§4.3.9);
/// then the central directory (§4.3.12) and the end records (§4.3.14–§4.3.16, ZIP64 ones from
/// 65,535 entries or 4 GiB on). An entry gets ZIP64 fields (§4.5.3) in its local header already
/// when its size (or its deflate bound) or its offset reaches 0xFFFFFFFF. Folders get no extra
/// fields (Poco::Zip 1.11 misreads them in local headers), except their offset past 4 GiB.
///
/// Memory: two k_buffer_size buffers, zlib's state and the entry list, whatever the file sizes.
/// The sink gets at most k_buffer_size bytes a call; when it returns false the writer throws
/// SinkClosed at once, reading nothing more. Throws std::invalid_argument (bad entries, see
/// prepare_entries(); a level outside 1…9 with deflate), error::IntegrityError naming the
/// entry when a body ends before its size or does not match its given CRC-32, and whatever the
/// provider and the sink throw (error::IoError …; to stop on a signal, let either throw
/// error::Interrupted). After a throw the output is incomplete.
WriteResult write_archive(std::vector<Entry> entries, const WriteOptions& options,
                          BodyProvider& provider, Sink& sink);

/// The exact length in bytes of what write_archive() would write for `entries`, when it is
/// known before writing: with store, always (data descriptors included); with deflate only
/// when no entry is a non-empty file. Throws as prepare_entries().
std::optional<std::uint64_t> archive_size(std::vector<Entry> entries, const WriteOptions& options);

} // namespace shared::zip
