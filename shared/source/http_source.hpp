// A web store: an artifact root URL served over http(s).
//
// Listing, in order: artifact-metadata.csv at the root (paths and hashes); else nginx's
// "autoindex_format json" listing, walked folder by folder; else the links of an HTML index
// page (nginx and Apache autoindex).
#pragma once

#include "shared/source/source.hpp"

#include <string>
#include <vector>

namespace shared::source {

/// Items of an artifact under an http(s) root URL.
class HttpSource : public Source {
public:
  /// `root_url`: the artifact root ('/' appended when missing).
  HttpSource(std::string root_url, http::ClientOptions options, log::Logger& logger);

  std::string describe() const override;
  /// The root URL with scheme and host in lower case, no default port, no credentials.
  std::string cache_key() const override;
  Listing list() override;
  std::unique_ptr<Reader> open_reader() override;
  /// Web stores are asked for Range requests; one that answers with the whole body makes
  /// its readers throw RangesUnsupported.
  bool supports_ranges() const override { return true; }

private:
  bool list_from_index(Listing& listing, std::string& problem);

  std::string m_root;
  http::ClientOptions m_options;
  log::Logger& m_logger;
};

/// One link of an index page: its decoded name relative to the page, and whether it is a
/// folder (ends in '/').
struct IndexLink {
  std::string name;
  bool is_directory = false;
};

/// The links of an HTML index page at `page_url` that name its own children: parent links,
/// sort links ("?C=N;O=D"), fragments and links to other places are left out; %XX and
/// HTML entities are decoded.
std::vector<IndexLink> parse_html_index(const std::string& html, const std::string& page_url);

/// Entries of an nginx "autoindex_format json" page:
/// [{"name":"a","type":"file","size":3,…},{"name":"d","type":"directory",…}]. Throws
/// std::runtime_error when the text is not such a list.
struct JsonIndexEntry {
  std::string name;
  bool is_directory = false;
  std::optional<std::uint64_t> size;
};
std::vector<JsonIndexEntry> parse_json_index(const std::string& json);

} // namespace shared::source
