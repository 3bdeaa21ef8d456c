// Reading a descriptor to its end in large blocks.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace shared::fs {

/// Reads `fd` from its current offset to end of file into `buffer` (`size` bytes a read,
/// EINTR retried) and hands each block to `consume`. Returns the bytes read. Throws
/// error::IoError "cannot read <name>: …", and whatever `consume` throws.
std::size_t read_to_end(int fd, char* buffer, std::size_t size, const std::string& name,
                        const std::function<void(const char* data, std::size_t size)>& consume);

} // namespace shared::fs
