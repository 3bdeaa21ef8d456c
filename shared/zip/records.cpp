#include "shared/zip/records.hpp"

#include "shared/zip/crc32.hpp"

#include <ctime>
#include <limits>
#include <stdexcept>
#include <sys/stat.h>

namespace shared::zip::detail {
namespace {

// Signatures (APPNOTE §4.3.7, §4.3.9.3, §4.3.12, §4.3.14, §4.3.15, §4.3.16).
constexpr std::uint32_t k_local_signature = 0x04034b50;
constexpr std::uint32_t k_descriptor_signature = 0x08074b50;
constexpr std::uint32_t k_central_signature = 0x02014b50;
constexpr std::uint32_t k_zip64_end_signature = 0x06064b50;
constexpr std::uint32_t k_zip64_locator_signature = 0x07064b50;
constexpr std::uint32_t k_end_signature = 0x06054b50;

// Fixed parts of the records, in bytes.
constexpr std::uint64_t k_local_fixed = 30;
constexpr std::uint64_t k_central_fixed = 46;
constexpr std::uint64_t k_zip64_end_size = 56;
constexpr std::uint64_t k_zip64_locator_size = 20;
constexpr std::uint64_t k_end_size = 22;

// Extra field header IDs (APPNOTE §4.5.2, §4.6.1) and their lengths with their 4-byte headers.
constexpr std::uint16_t k_zip64_extra_id = 0x0001;
constexpr std::uint16_t k_timestamp_extra_id = 0x5455;
constexpr std::uint64_t k_timestamp_extra_size = 4 + 5; // flags byte + 32-bit mtime

// Version made by (APPNOTE §4.4.2): host 3 = UNIX in the high byte, APPNOTE 6.3 in the low.
constexpr std::uint16_t k_version_made_by = (3 << 8) | 63;
constexpr std::uint16_t k_version_default = 10;
constexpr std::uint16_t k_version_folder_or_deflate = 20;
constexpr std::uint16_t k_version_zip64 = 45;

// General purpose flags (APPNOTE §4.4.4): bit 3 data descriptor, bit 11 UTF-8 names.
constexpr std::uint16_t k_flag_descriptor = 1 << 3;
constexpr std::uint16_t k_flag_utf8 = 1 << 11;

// MS-DOS attribute bit for folders, in the low byte of the external attributes.
constexpr std::uint32_t k_dos_directory = 0x10;

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
}
void put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
}
std::uint32_t field32(std::uint64_t value) {
  return value >= k_max32 ? static_cast<std::uint32_t>(k_max32) : static_cast<std::uint32_t>(value);
}

// zlib's deflateBound() for raw deflate with default settings, written out so that it holds
// for 64-bit sizes: the most deflate can output for `size` input bytes.
std::uint64_t deflate_bound(std::uint64_t size) {
  return size + (size >> 12) + (size >> 14) + (size >> 25) + 13;
}

// Deflate option bits 1 and 2 (APPNOTE §4.4.4): 11 super fast, 10 fast, 01 maximum, 00 normal.
std::uint16_t deflate_option_flags(int level) {
  if (level <= 1) {
    return 0x6;
  }
  if (level == 2) {
    return 0x4;
  }
  return level >= 8 ? 0x2 : 0x0;
}

std::uint64_t local_zip64_extra_size(const Record& r) {
  return r.zip64 ? 4 + 16 : 0;
}

std::uint64_t central_zip64_extra_size(const Record& r) {
  const std::uint64_t fields = (r.zip64 ? 16 : 0) + (r.offset >= k_max32 ? 8 : 0);
  return fields == 0 ? 0 : 4 + fields;
}

std::uint64_t timestamp_extra_size(const Record& r) {
  return r.has_mtime ? k_timestamp_extra_size : 0;
}

void append_timestamp_extra(std::string& out, const Record& r) {
  if (r.has_mtime) {
    // Info-ZIP extended timestamp: flags bit 0 = modification time present, then the time as a
    // signed 32-bit count of seconds since 1970 UTC. The central copy holds the same.
    put16(out, k_timestamp_extra_id);
    put16(out, 5);
    out.push_back(1);
    put32(out, static_cast<std::uint32_t>(r.mtime));
  }
}

std::uint16_t size16(std::uint64_t value, const char* what) {
  if (value > k_max16) {
    throw std::logic_error(std::string("zip: ") + what + " longer than 65,535 bytes");
  }
  return static_cast<std::uint16_t>(value);
}

} // namespace

void dos_date_time(std::int64_t mtime, std::uint16_t& time, std::uint16_t& date) {
  constexpr std::int64_t k_first = 315532800; // 1980-01-01 00:00:00 UTC
  constexpr std::int64_t k_last = 4354819198; // 2107-12-31 23:59:58 UTC
  const std::time_t t = static_cast<std::time_t>(mtime < k_first  ? k_first
                                                 : mtime > k_last ? k_last
                                                                  : mtime);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  time = static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  date = static_cast<std::uint16_t>(((tm.tm_year + 1900 - 1980) << 9) | ((tm.tm_mon + 1) << 5) |
                                    tm.tm_mday);
}

Record plan_record(const Entry& entry, Method method, int level, std::uint64_t offset) {
  Record r;
  r.offset = offset;
  r.size = entry.kind == EntryKind::folder ? 0 : entry.size;
  const bool deflated =
      method == Method::deflate && entry.kind == EntryKind::file && entry.size > 0;
  r.method = static_cast<std::uint16_t>(deflated ? Method::deflate : Method::store);

  switch (entry.kind) {
  case EntryKind::folder:
    r.crc_known = true;
    r.crc = 0;
    break;
  case EntryKind::symlink:
    r.crc_known = true;
    r.crc = crc32(entry.link_target);
    break;
  case EntryKind::file:
    r.crc_known = entry.crc32.has_value() || entry.size == 0;
    r.crc = entry.crc32.value_or(0);
    break;
  }
  r.descriptor = !r.crc_known || deflated;
  r.compressed_size = deflated ? 0 : r.size; // deflated: known once written
  const std::uint64_t most = deflated ? deflate_bound(r.size) : r.size;
  // A folder's local header carries no extra field at all: Poco::Zip 1.11 does not read the
  // local extra field of entries that look like folders and loses its place. Its central
  // header has only what it cannot do without (its offset past 4 GiB), so that both headers
  // agree.
  const bool folder = entry.kind == EntryKind::folder;
  r.zip64 = !folder && (most >= k_max32 || offset >= k_max32);

  r.flags = k_flag_utf8;
  if (r.descriptor) {
    r.flags |= k_flag_descriptor;
  }
  if (deflated) {
    r.flags |= deflate_option_flags(level);
  }
  r.version_needed = r.zip64 || offset >= k_max32                  ? k_version_zip64
                     : deflated || entry.kind == EntryKind::folder ? k_version_folder_or_deflate
                                                                   : k_version_default;

  dos_date_time(entry.mtime, r.dos_time, r.dos_date);
  r.has_mtime = !folder && entry.mtime >= std::numeric_limits<std::int32_t>::min() &&
                entry.mtime <= std::numeric_limits<std::int32_t>::max();
  r.mtime = r.has_mtime ? static_cast<std::int32_t>(entry.mtime) : 0;

  std::uint32_t type = S_IFREG;
  if (entry.kind == EntryKind::folder) {
    type = S_IFDIR;
  } else if (entry.kind == EntryKind::symlink) {
    type = S_IFLNK;
  }
  r.external_attributes = ((type | (entry.mode & 07777)) << 16) |
                          (entry.kind == EntryKind::folder ? k_dos_directory : 0);
  return r;
}

std::uint64_t local_header_size(const Entry& entry, const Record& record) {
  return k_local_fixed + entry.path.size() + local_zip64_extra_size(record) +
         timestamp_extra_size(record);
}

void append_local_header(std::string& out, const Entry& entry, const Record& r) {
  // With a data descriptor the CRC and sizes are zero here (APPNOTE §4.4.4 bit 3); with ZIP64
  // the size fields hold 0xFFFFFFFF and the ZIP64 field both sizes (§4.5.3), zero when they
  // follow in the descriptor.
  const std::uint64_t size = r.descriptor ? 0 : r.size;
  const std::uint64_t compressed = r.descriptor ? 0 : r.compressed_size;
  put32(out, k_local_signature);
  put16(out, r.version_needed);
  put16(out, r.flags);
  put16(out, r.method);
  put16(out, r.dos_time);
  put16(out, r.dos_date);
  put32(out, r.descriptor ? 0 : r.crc);
  put32(out,
        r.zip64 ? static_cast<std::uint32_t>(k_max32) : static_cast<std::uint32_t>(compressed));
  put32(out, r.zip64 ? static_cast<std::uint32_t>(k_max32) : static_cast<std::uint32_t>(size));
  put16(out, size16(entry.path.size(), "entry name"));
  put16(out, size16(local_zip64_extra_size(r) + timestamp_extra_size(r), "extra field"));
  out += entry.path;
  if (r.zip64) {
    put16(out, k_zip64_extra_id);
    put16(out, 16);
    put64(out, size);
    put64(out, compressed);
  }
  append_timestamp_extra(out, r);
}

std::uint64_t descriptor_size(const Record& record) {
  return record.descriptor ? (record.zip64 ? 24 : 16) : 0;
}

void append_descriptor(std::string& out, const Record& r) {
  if (!r.descriptor) {
    return;
  }
  put32(out, k_descriptor_signature);
  put32(out, r.crc);
  if (r.zip64) {
    put64(out, r.compressed_size);
    put64(out, r.size);
  } else {
    put32(out, static_cast<std::uint32_t>(r.compressed_size));
    put32(out, static_cast<std::uint32_t>(r.size));
  }
}

std::uint64_t central_header_size(const Entry& entry, const Record& record) {
  return k_central_fixed + entry.path.size() + central_zip64_extra_size(record) +
         timestamp_extra_size(record);
}

void append_central_header(std::string& out, const Entry& entry, const Record& r) {
  put32(out, k_central_signature);
  put16(out, k_version_made_by);
  put16(out, r.version_needed);
  put16(out, r.flags);
  put16(out, r.method);
  put16(out, r.dos_time);
  put16(out, r.dos_date);
  put32(out, r.crc);
  put32(out, r.zip64 ? static_cast<std::uint32_t>(k_max32) : field32(r.compressed_size));
  put32(out, r.zip64 ? static_cast<std::uint32_t>(k_max32) : field32(r.size));
  put16(out, size16(entry.path.size(), "entry name"));
  put16(out, size16(central_zip64_extra_size(r) + timestamp_extra_size(r), "extra field"));
  put16(out, 0); // comment length
  put16(out, 0); // disk number start
  put16(out, 0); // internal attributes
  put32(out, r.external_attributes);
  put32(out, field32(r.offset));
  out += entry.path;
  if (central_zip64_extra_size(r) > 0) {
    // Only the fields whose 32-bit counterparts hold 0xFFFFFFFF, in this order (§4.5.3).
    put16(out, k_zip64_extra_id);
    put16(out, static_cast<std::uint16_t>(central_zip64_extra_size(r) - 4));
    if (r.zip64) {
      put64(out, r.size);
      put64(out, r.compressed_size);
    }
    if (r.offset >= k_max32) {
      put64(out, r.offset);
    }
  }
  append_timestamp_extra(out, r);
}

namespace {
bool needs_zip64_end(std::uint64_t entries, std::uint64_t cd_offset, std::uint64_t cd_size) {
  return entries >= k_max16 || cd_offset >= k_max32 || cd_size >= k_max32;
}
} // namespace

std::uint64_t end_records_size(std::uint64_t entries, std::uint64_t cd_offset,
                               std::uint64_t cd_size) {
  return (needs_zip64_end(entries, cd_offset, cd_size) ? k_zip64_end_size + k_zip64_locator_size
                                                       : 0) +
         k_end_size;
}

void append_end_records(std::string& out, std::uint64_t entries, std::uint64_t cd_offset,
                        std::uint64_t cd_size) {
  if (needs_zip64_end(entries, cd_offset, cd_size)) {
    const std::uint64_t zip64_end_offset = cd_offset + cd_size;
    put32(out, k_zip64_end_signature);
    put64(out, k_zip64_end_size - 12); // size of the rest of the record
    put16(out, k_version_made_by);
    put16(out, k_version_zip64);
    put32(out, 0);       // this disk
    put32(out, 0);       // disk of the central directory
    put64(out, entries); // on this disk
    put64(out, entries); // in all
    put64(out, cd_size);
    put64(out, cd_offset);

    put32(out, k_zip64_locator_signature);
    put32(out, 0); // disk of the ZIP64 end record
    put64(out, zip64_end_offset);
    put32(out, 1); // number of disks
  }
  const std::uint16_t count = static_cast<std::uint16_t>(entries >= k_max16 ? k_max16 : entries);
  put32(out, k_end_signature);
  put16(out, 0); // this disk
  put16(out, 0); // disk of the central directory
  put16(out, count);
  put16(out, count);
  put32(out, field32(cd_size));
  put32(out, field32(cd_offset));
  put16(out, 0); // comment length
}

} // namespace shared::zip::detail
