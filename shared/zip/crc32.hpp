// CRC-32 as ZIP uses it (APPNOTE §4.4.7: polynomial 0xEDB88320 reflected, pre- and
// post-conditioned), computed by zlib's crc32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shared::zip {

/// The CRC-32 of `size` bytes at `data` continued from `crc` (0 to start); feeding a body in
/// pieces gives the CRC of the whole.
std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);
/// The CRC-32 of `data`.
inline std::uint32_t crc32(std::string_view data) {
  return crc32(data.data(), data.size());
}

/// The CRC-32 of A followed by B from crc32(A), crc32(B) and B's length in bytes.
std::uint32_t crc32_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t size_b);

/// A file's CRC-32 and its length in bytes.
struct FileCrc {
  std::uint32_t crc32 = 0;
  std::uint64_t size = 0;
};

/// Reads a regular file to its end in 256 KiB blocks (one buffer, whatever the file's size) and
/// returns its CRC-32 and size, for callers that precompute CRCs (stored entries without data
/// descriptors, Layout). `path` is relative to the folder open as `root_fd` (AT_FDCWD: the
/// working directory) and opened as LocalBodyProvider opens it: no symlink followed in any of
/// its segments. Throws error::IoError naming the path when it cannot be opened or read, or is
/// not a regular file.
FileCrc file_crc32(int root_fd, const std::string& path);

} // namespace shared::zip
