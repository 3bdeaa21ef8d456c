// Three independent ZIP readers for tests: Info-ZIP's `unzip -t`, Python's zipfile and
// Poco::Zip. An archive a test writes (shared/zip, download-dir-zip) is read back by each, and
// what each saw (names, modes, contents by SHA-256) compared with what the test expects.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace tests::support {

/// The readers' executables.
inline constexpr const char* k_python = "/usr/bin/python3";
inline constexpr const char* k_unzip = "/usr/bin/unzip";

/// SHA-256 of `data`, lowercase hex.
std::string sha_hex(std::string_view data);

/// One entry as a reader saw it (or as expected): its body's digest and length, and the Unix
/// mode (type and permission bits) from its external attributes. A folder's body is empty; a
/// symlink's body is its target.
struct Seen {
  std::string sha256;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  bool operator==(const Seen& o) const {
    return sha256 == o.sha256 && size == o.size && mode == o.mode;
  }
};

/// Entries by name as stored (folders end with '/').
using Listing = std::map<std::string, Seen>;

/// "size N mode 0NNN sha256 …", for messages.
std::string describe(const Seen& seen);

/// "" when equal, else the differences, one a line (missing, differs, unexpected).
std::string difference(const Listing& expected, const Listing& actual);

/// What Python's zipfile saw.
struct PythonView {
  Listing listing;
  std::map<std::string, std::string> dates; ///< name → MS-DOS "YYYY-MM-DDTHH:MM:SS"
  bool unix_and_utf8 = true;                ///< every entry made on Unix, UTF-8 flag set
};

/// Python's zipfile: opens the archive (central directory), reads every entry in full (which
/// checks its CRC-32 and that the bytes read equal the listed size) and reports per entry the
/// name (as UTF-8 bytes), the mode from the external attributes, the host system, the UTF-8
/// flag (bit 11), the size, the SHA-256 and the MS-DOS date and time. REQUIREs that Python
/// exits 0 (a bad CRC-32 or a short body makes it fail).
PythonView read_with_python(const std::string& archive);

/// Poco::Zip's ZipArchive: parses the local headers (bodies read through ZipInputStream, which
/// checks the CRC-32; contents by SHA-256) and the central directory (modes from the external
/// attributes; a central directory name without a local header shows up with an empty digest).
/// CHECKs that every central directory entry says "made by Unix".
Listing read_with_poco(const std::string& archive);

/// `unzip -tq`: Info-ZIP's own test of every entry (CRC-32s, sizes, structure); CHECKs exit 0
/// and "No errors detected".
void test_with_unzip(const std::string& archive);

/// The three readers, each compared with `expected`: unzip -t (for an empty archive, its
/// "zipfile is empty" warning), Python's listing (plus: made on Unix, UTF-8 names) and Poco's.
void check_archive(const std::string& archive, const Listing& expected);

} // namespace tests::support
