// Writing a whole buffer to a descriptor, however short the writes the kernel makes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace shared::fs {

/// Writes all `size` bytes of `data` to `fd` at its current offset, retrying short writes and
/// EINTR. Throws error::IoError "cannot write <name>: …".
void write_all(int fd, const char* data, std::size_t size, const std::string& name);

/// The same at `offset` bytes into the file (pwrite(2)); the descriptor's offset is unchanged.
void pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset,
                const std::string& name);

} // namespace shared::fs
