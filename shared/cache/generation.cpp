#include "shared/cache/generation.hpp"

#include "shared/fs/part_file.hpp"
#include "shared/hash/sha256.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace shared::cache {
namespace {

using fs::Fingerprint;

void write_file_synced(const std::string& path, const std::string& content) {
  fs::PartFile file(path);
  file.write(content);
  file.commit();
}

std::string sha256_hex(const std::string& text) {
  return hash::to_hex(hash::sha256(text), false);
}

// The fingerprints file: one line "<size> <mtime ns> <inode>" per fingerprint.
template <typename Number>
void append_number(std::string& text, Number value, char separator) {
  char digits[24];
  text.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  text.push_back(separator);
}

std::string fingerprints_text(const std::vector<Fingerprint>& fingerprints) {
  std::string text;
  text.reserve(fingerprints.size() * 48);
  for (const auto& fingerprint : fingerprints) {
    append_number(text, fingerprint.size, ' ');
    append_number(text, fingerprint.mtime_ns, ' ');
    append_number(text, fingerprint.inode, '\n');
  }
  return text;
}

// Reads one number and the separator after it; false when either is missing.
template <typename Number>
bool read_field(const char*& at, const char* end, Number& value, char separator) {
  const auto [next, error] = std::from_chars(at, end, value);
  if (error != std::errc() || next == end || *next != separator) {
    return false;
  }
  at = next + 1;
  return true;
}

std::optional<std::vector<Fingerprint>> parse_fingerprints(const std::string& text) {
  std::vector<Fingerprint> fingerprints;
  const char* at = text.data();
  const char* const end = at + text.size();
  while (at != end) {
    Fingerprint fingerprint;
    if (!read_field(at, end, fingerprint.size, ' ') ||
        !read_field(at, end, fingerprint.mtime_ns, ' ') ||
        !read_field(at, end, fingerprint.inode, '\n')) {
      return std::nullopt;
    }
    fingerprints.push_back(fingerprint);
  }
  return fingerprints;
}

// The .verify marker of a generation with these two files.
std::string marker_json(const std::string& csv, const std::string& fingerprints) {
  Poco::JSON::Object marker;
  marker.set("lastUpdatedOn", Poco::DateTimeFormatter::format(
                                  Poco::DateTime(), Poco::DateTimeFormat::ISO8601_FORMAT));
  marker.set("metadataSha256", sha256_hex(csv));
  marker.set("fingerprintsSha256", sha256_hex(fingerprints));
  std::ostringstream json;
  marker.stringify(json);
  return json.str();
}

} // namespace

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<Generation> read_generation(const std::string& folder, const std::string& marker,
                                          std::string& reason) {
  const auto csv = read_text(folder + "/" + std::string(metadata::k_file_name));
  const auto fingerprints = read_text(folder + "/" + k_fingerprints);
  const auto json = Poco::JSON::Parser().parse(marker).extract<Poco::JSON::Object::Ptr>();
  if (!csv || !fingerprints ||
      json->optValue<std::string>("metadataSha256", "") != sha256_hex(*csv) ||
      json->optValue<std::string>("fingerprintsSha256", "") != sha256_hex(*fingerprints)) {
    reason = "its .verify marker does not match its files";
    return std::nullopt;
  }
  Generation generation;
  generation.metadata = metadata::parse_csv(*csv);
  auto parsed = parse_fingerprints(*fingerprints);
  if (!parsed || parsed->size() != generation.metadata.entries.size()) {
    reason = "its fingerprints do not match its metadata";
    return std::nullopt;
  }
  generation.fingerprints = std::move(*parsed);
  generation.last_updated = json->optValue<std::string>("lastUpdatedOn", "?");
  return generation;
}

std::string write_generation_files(const std::string& folder,
                                   const std::vector<metadata::Entry>& entries,
                                   const std::vector<Fingerprint>& fingerprints) {
  const std::string csv = metadata::to_csv(entries);
  const std::string text = fingerprints_text(fingerprints);
  write_file_synced(folder + "/" + std::string(metadata::k_file_name), csv);
  write_file_synced(folder + "/" + k_fingerprints, text);
  return marker_json(csv, text);
}

void write_marker(const std::string& folder, const std::string& marker) {
  write_file_synced(folder + "/" + k_marker, marker);
}

} // namespace shared::cache
