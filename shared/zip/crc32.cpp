#include "shared/zip/crc32.hpp"

#include "shared/fs/read_loop.hpp"
#include "shared/zip/io.hpp"

#include <memory>
#include <zlib.h>

namespace {
// zlib.h may define crc32_combine as a macro (crc32_combine64 with large-file support), which
// would rename the function of the same name below: call it through this, then drop the macro.
uLong zlib_crc32_combine(uLong crc_a, uLong crc_b, z_off_t size_b) {
  return crc32_combine(crc_a, crc_b, size_b);
}
} // namespace
#undef crc32_combine

namespace shared::zip {

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) {
  // zlib takes 32-bit lengths: feed larger blocks in 1 GiB pieces.
  constexpr std::size_t k_piece = std::size_t{1} << 30;
  const auto* bytes = static_cast<const Bytef*>(data);
  uLong value = crc;
  while (size > 0) {
    const std::size_t n = size < k_piece ? size : k_piece;
    value = ::crc32(value, bytes, static_cast<uInt>(n));
    bytes += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(value);
}

std::uint32_t crc32_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t size_b) {
  return static_cast<std::uint32_t>(zlib_crc32_combine(crc_a, crc_b, static_cast<z_off_t>(size_b)));
}

FileCrc file_crc32(int root_fd, const std::string& path) {
  const fs::Descriptor file = open_regular_file(root_fd, path);
  const std::unique_ptr<char[]> buffer(new char[k_buffer_size]);
  FileCrc result;
  result.size = fs::read_to_end(
      file.get(), buffer.get(), k_buffer_size, path,
      [&](const char* data, std::size_t n) { result.crc32 = crc32(data, n, result.crc32); });
  return result;
}

} // namespace shared::zip
