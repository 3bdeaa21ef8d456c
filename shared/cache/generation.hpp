// The files of one generation of a key's cache (the layout is in artifact_cache.hpp): their
// names, and reading and writing them. Internal to shared/cache.
#pragma once

#include "shared/fs/fingerprint.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <optional>
#include <string>
#include <vector>

namespace shared::cache {

/// Names in a key folder.
inline constexpr const char* k_objects = "objects"; ///< the objects, named by content
inline constexpr const char* k_current = "current"; ///< the generation in use
/// + the process id: the next generation, while an update writes it.
inline constexpr const char* k_next_prefix = "new-";
/// Names in a generation folder (beside artifact-metadata.csv).
inline constexpr const char* k_fingerprints = "fingerprints";
inline constexpr const char* k_marker = ".verify";

/// A generation's files as read.
struct Generation {
  metadata::Metadata metadata;
  std::vector<fs::Fingerprint> fingerprints; ///< one per metadata entry, same order
  std::string last_updated;                  ///< the marker's lastUpdatedOn
};

/// The whole content of the file at `path`, or nullopt when it cannot be opened.
std::optional<std::string> read_text(const std::string& path);

/// Reads the generation in `folder` whose .verify marker is `marker` (the marker's text):
/// nullopt, with `reason`, when the marker does not name the SHA-256 of both files or they
/// do not agree. Throws Poco::Exception (a marker that is not JSON) and metadata::ParseError.
std::optional<Generation> read_generation(const std::string& folder, const std::string& marker,
                                          std::string& reason);

/// Writes artifact-metadata.csv of `entries` and their `fingerprints` (same order) into
/// `folder`, each durable (fs::PartFile). Returns the marker that vouches for them, for
/// write_marker() once the objects they name are durable too. Throws error::IoError and
/// std::invalid_argument (see metadata::to_csv).
std::string write_generation_files(const std::string& folder,
                                   const std::vector<metadata::Entry>& entries,
                                   const std::vector<fs::Fingerprint>& fingerprints);

/// Writes the .verify marker into `folder`, durable: from then on the generation is trusted.
/// Throws error::IoError.
void write_marker(const std::string& folder, const std::string& marker);

} // namespace shared::cache
