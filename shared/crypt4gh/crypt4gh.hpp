// What batch downloads need of Crypt4GH (GA4GH Crypt4GH file format 1.0, §3.2 and §3.3): public
// key files and the length of a file's header. Nothing is encrypted or decrypted here.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shared::crypt4gh {

/// A Crypt4GH public key: the 32 bytes of an X25519 public key (RFC 7748).
using PublicKey = std::array<unsigned char, 32>;

/// The armor lines of a Crypt4GH public key file (as written by crypt4gh-keygen).
inline constexpr std::string_view k_public_key_begin = "-----BEGIN CRYPT4GH PUBLIC KEY-----";
inline constexpr std::string_view k_public_key_end = "-----END CRYPT4GH PUBLIC KEY-----";

/// Parses a public key given as text: the content of a Crypt4GH public key file (the BEGIN
/// line, the base64 of the 32 key bytes on one or more lines, the END line; blank lines and
/// surrounding whitespace ignored), or that base64 alone (as a work package carries it).
/// Throws std::invalid_argument saying what is wrong (no END line, not base64, not 32 bytes,
/// a private key); the caller names where the text came from.
PublicKey parse_public_key(std::string_view text);

/// Reads and parses the Crypt4GH public key file at `path` (absolute or relative to the working
/// directory; at most 64 KiB). Throws std::invalid_argument "<path>: <reason>" when it cannot
/// be read or is not a public key file (parse_public_key).
PublicKey read_public_key_file(const std::string& path);

/// The key as base64 (44 characters), as it appears in key files and work packages.
std::string to_base64(const PublicKey& key);

/// The length in bytes of the Crypt4GH header that `data` starts with (§3.2: the magic
/// "crypt4gh", version 1 as a little-endian uint32, the packet count, then that many header
/// packets, each starting with its own length as a little-endian uint32 that counts those
/// 4 bytes; §3.3: a packet of method 0, X25519 + ChaCha20-Poly1305, holds at least the writer's
/// 32-byte key, a 12-byte nonce and a 16-byte MAC). `data` may go on after the header (the
/// encrypted body). nullopt when it is not such a header or ends inside it; then `problem`
/// (when not null) says why.
std::optional<std::size_t> header_length(std::string_view data, std::string* problem = nullptr);

} // namespace shared::crypt4gh
