// Reproducible random test data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace tests::support {

/// `size` bytes from std::mt19937_64 seeded with `seed`: the same bytes for the same seed.
inline std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t value = generator();
    std::memcpy(&bytes[i], &value, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

} // namespace tests::support
