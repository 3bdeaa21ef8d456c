// Internal to shared/zip: the binary records of a ZIP archive (APPNOTE 6.3.10 §4.3) and the
// per-entry decisions (method, flags, ZIP64, data descriptor) that both writers share, so the
// streaming writer and Layout produce the same bytes for the same entries.
#pragma once

#include "shared/zip/entry.hpp"

#include <cstdint>
#include <string>

namespace shared::zip::detail {

/// The value a 32-bit size or offset field holds when the real value is in a ZIP64 field
/// (APPNOTE §4.4.8, §4.5.3); sizes and offsets from this value on need ZIP64.
inline constexpr std::uint64_t k_max32 = 0xFFFFFFFF;
/// The same for 16-bit entry counts (APPNOTE §4.4.21).
inline constexpr std::uint64_t k_max16 = 0xFFFF;

/// How one entry is written, decided before its local header: everything its records hold.
struct Record {
  std::uint16_t method = 0;         ///< APPNOTE §4.4.5: 0 store, 8 deflate
  std::uint16_t flags = 0;          ///< APPNOTE §4.4.4
  std::uint16_t version_needed = 0; ///< APPNOTE §4.4.3: 10, 20 (folder, deflate), 45 (ZIP64)
  std::uint16_t dos_time = 0;       ///< APPNOTE §4.4.6, UTC
  std::uint16_t dos_date = 0;
  bool crc_known = false;  ///< the CRC is known before the body is written
  bool descriptor = false; ///< flag bit 3: CRC and sizes follow the body (§4.3.9)
  bool zip64 = false;      ///< sizes in ZIP64 fields in both headers (§4.5.3)
  bool has_mtime = false;  ///< extended timestamp field 0x5455 (§4.6.1), not folders
  std::int32_t mtime = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed_size = 0;     ///< bytes of file data (§4.3.8); known after the body
  std::uint64_t size = 0;                ///< uncompressed bytes
  std::uint64_t offset = 0;              ///< of the local header from the archive's start
  std::uint32_t external_attributes = 0; ///< APPNOTE §4.4.15: Unix mode << 16
};

/// Decides how a prepared entry is written when its local header starts at `offset`: stored
/// unless `method` is deflate and the entry is a non-empty file; a data descriptor when the
/// CRC is not known up front or the compressed size is not (deflate); ZIP64 when the size, its
/// deflate bound, or `offset` reaches k_max32. Folders get no extra fields (Poco::Zip 1.11
/// misreads them in their local headers) but a ZIP64 offset in their central header when past
/// 4 GiB. For stored entries compressed_size = size.
Record plan_record(const Entry& entry, Method method, int level, std::uint64_t offset);

/// Local file header (APPNOTE §4.3.7) with its extra fields.
std::uint64_t local_header_size(const Entry& entry, const Record& record);
void append_local_header(std::string& out, const Entry& entry, const Record& record);

/// Data descriptor with its signature (APPNOTE §4.3.9): 16 bytes, 24 with ZIP64 sizes.
std::uint64_t descriptor_size(const Record& record);
void append_descriptor(std::string& out, const Record& record);

/// Central directory file header (APPNOTE §4.3.12) with its extra fields.
std::uint64_t central_header_size(const Entry& entry, const Record& record);
void append_central_header(std::string& out, const Entry& entry, const Record& record);

/// ZIP64 end of central directory record and locator when needed (APPNOTE §4.3.14, §4.3.15:
/// 65,535 entries or more, or the central directory's offset or size reaching k_max32), then
/// the end of central directory record (§4.3.16).
std::uint64_t end_records_size(std::uint64_t entries, std::uint64_t cd_offset,
                               std::uint64_t cd_size);
void append_end_records(std::string& out, std::uint64_t entries, std::uint64_t cd_offset,
                        std::uint64_t cd_size);

/// MS-DOS time and date (APPNOTE §4.4.6) of `mtime` (seconds since 1970, UTC), clamped to
/// 1980-01-01 00:00:00 … 2107-12-31 23:59:58.
void dos_date_time(std::int64_t mtime, std::uint16_t& time, std::uint16_t& date);

} // namespace shared::zip::detail
