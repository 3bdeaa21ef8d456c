// Streaming SHA-256 (FIPS 180-4) on OpenSSL's EVP interface, which uses the CPU's SHA
// instructions where present.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace shared::hash {

/// A SHA-256 digest: 32 bytes.
using Digest = std::array<std::uint8_t, 32>;

/// Incremental SHA-256. Not thread-safe: one per worker; reusable after finish().
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  /// Feeds `size` bytes.
  void update(const void* data, std::size_t size);
  /// Returns the digest of everything fed since construction or the last finish(),
  /// and starts over.
  Digest finish();

  /// Makes `other` continue from what this one has been fed so far.
  void copy_to(Sha256& other) const;

private:
  void reset();
  evp_md_ctx_st* m_ctx;
};

/// The digest of `data`.
Digest sha256(std::string_view data);

/// 64 hex digits, uppercase by default (the artifact-metadata.csv form).
std::string to_hex(const Digest& digest, bool uppercase = true);

/// Appends the 64 hex digits of to_hex() to `out`.
void append_hex(std::string& out, const Digest& digest, bool uppercase = true);

/// Parses exactly 64 hex digits of either case; nullopt otherwise.
std::optional<Digest> from_hex(std::string_view hex);

} // namespace shared::hash
