// artifact-metadata.csv: the list of an artifact's files with their SHA-256.
//
// Written form: one line per regular file, "<relative path>,<SHA-256 in uppercase hex>",
// no header, '/' separators, lines sorted bytewise by path, LF line ends. A path holding a
// comma, a double quote, CR or LF is quoted as RFC 4180 §2 says (quotes doubled). Paths are
// the bytes of the names on disk.
//
// Read form: the above, and what upstream's engine wrote: backslash separators, lowercase
// hex, CRLF line ends, a UTF-8 BOM, a last line with or without a line end, no quoting.
#pragma once

#include "shared/error/error.hpp"
#include "shared/hash/sha256.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shared::metadata {

/// The file's conventional name, at the root of an artifact.
inline constexpr std::string_view k_file_name = "artifact-metadata.csv";

/// One file of an artifact.
struct Entry {
  std::string path;    ///< relative to the artifact root, '/' separators
  hash::Digest sha256; ///< of the file's content
};

/// A parsed metadata file: entries sorted bytewise by path, each path once.
struct Metadata {
  std::vector<Entry> entries;

  /// The entry for `path` ('/' separators), or nullptr. O(log n).
  const Entry* find(std::string_view path) const;
};

/// A metadata file that cannot be trusted. what() is
/// "artifact-metadata.csv line N: <what is wrong>". Exit status: usage (bad input).
class ParseError : public error::Error {
public:
  ParseError(std::size_t line, const std::string& problem);
  std::size_t line() const { return m_line; }

private:
  std::size_t m_line;
};

/// Why `path` cannot be written to a metadata file that readers accept, or nullopt.
/// Adds to fs::relative_path_problem: a backslash (readers take it as a separator).
std::optional<std::string> unwritable_path_problem(std::string_view path);

/// The CSV text for `entries`, sorted bytewise by path. Throws std::invalid_argument for
/// a path that unwritable_path_problem refuses or that appears twice.
std::string to_csv(const std::vector<Entry>& entries);

/// Parses CSV text in any of the read forms above. Throws ParseError for a wrong field
/// count, a hash that is not 64 hex digits, an empty, absolute or drive-letter path, a "."
/// or ".." segment, or a duplicate path.
Metadata parse_csv(std::string_view text);

/// Reads and parses the file at `path`. Throws error::IoError or ParseError.
Metadata read_csv_file(const std::string& path);

} // namespace shared::metadata
