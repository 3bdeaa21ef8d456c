#include "shared/source/http_source.hpp"

#include "shared/error/error.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/url.hpp"
#include "shared/metadata/metadata_csv.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace shared::source {
namespace {

constexpr long k_max_depth = 64; // folders deeper than this in an index are not walked

// Passes a 206 answer to a Range request on to `sink`; anything else is not the part asked for.
class RangeSink : public http::BodySink {
public:
  RangeSink(http::BodySink& sink, std::uint64_t offset, std::uint64_t length)
      : m_sink(sink), m_offset(offset), m_length(length) {}

  void start(const http::Response& response) override {
    // Content-Range: bytes <first>-<last>/<complete length> (RFC 9110 §14.4)
    const std::string range = response.header("Content-Range");
    const std::string expected =
        "bytes " + std::to_string(m_offset) + "-" + std::to_string(m_offset + m_length - 1) + "/";
    if (response.status != 206 || range.compare(0, expected.size(), expected) != 0) {
      throw RangesUnsupported("asked for bytes " + std::to_string(m_offset) + "-" +
                              std::to_string(m_offset + m_length - 1) + ", got status " +
                              std::to_string(response.status) +
                              (range.empty() ? std::string() : " with Content-Range " + range));
    }
    m_sink.start(response);
  }
  void write(const char* data, std::size_t size) override { m_sink.write(data, size); }
  void restart() override { m_sink.restart(); }

private:
  http::BodySink& m_sink;
  std::uint64_t m_offset;
  std::uint64_t m_length;
};

// Passes the answer to "Range: bytes=0-…" on to `sink`, noting the whole size a 206 gives.
class FirstSink : public http::BodySink {
public:
  explicit FirstSink(http::BodySink& sink) : m_sink(sink) {}

  void start(const http::Response& response) override {
    m_total.reset();
    if (response.status == 206) {
      // Content-Range: bytes 0-<last>/<complete length> (RFC 9110 §14.4)
      const std::string range = response.header("Content-Range");
      const auto slash = range.find('/');
      std::uint64_t total = 0;
      const std::string encoding = response.header("Content-Encoding");
      if (!encoding.empty() && Poco::icompare(encoding, "identity") != 0) {
        throw RangesUnsupported("a part sent with Content-Encoding " + encoding);
      }
      if (range.compare(0, 8, "bytes 0-") != 0 || slash == std::string::npos ||
          !parse_count(range.substr(slash + 1), total)) {
        throw error::IntegrityError("206 with an unusable Content-Range \"" + range + "\"");
      }
      m_total = total;
    }
    m_sink.start(response);
  }
  void write(const char* data, std::size_t size) override { m_sink.write(data, size); }
  void restart() override { m_sink.restart(); }
  std::optional<std::uint64_t> total() const { return m_total; }

private:
  static bool parse_count(const std::string& text, std::uint64_t& value) {
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    value = std::stoull(text);
    return true;
  }

  http::BodySink& m_sink;
  std::optional<std::uint64_t> m_total;
};

class HttpReader : public Reader {
public:
  HttpReader(const http::ClientOptions& options, log::Logger& logger) : m_client(options, logger) {}
  void fetch(const Item& item, http::BodySink& sink) override { m_client.get(item.location, sink); }
  void fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                   http::BodySink& sink) override {
    RangeSink range(sink, offset, length);
    m_client.get(
        item.location, range,
        {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)},
         {"Accept-Encoding", "identity"}});
  }
  std::optional<std::uint64_t> fetch_first(const Item& item, std::uint64_t length,
                                           http::BodySink& sink) override {
    FirstSink first(sink);
    // gzip stays welcome: a server that compresses sends the whole item (200), and one that
    // compresses a part makes FirstSink throw RangesUnsupported.
    m_client.get(item.location, first, {{"Range", "bytes=0-" + std::to_string(length - 1)}});
    return first.total();
  }
  std::uint64_t retries() const override { return m_client.retries(); }

private:
  http::Client m_client;
};

std::string decode_entities(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      static const std::pair<const char*, char> entities[] = {{"&amp;", '&'},  {"&lt;", '<'},
                                                              {"&gt;", '>'},   {"&quot;", '"'},
                                                              {"&#39;", '\''}, {"&#x27;", '\''}};
      bool replaced = false;
      for (const auto& [name, c] : entities) {
        const std::string entity(name);
        if (text.compare(i, entity.size(), entity) == 0) {
          out.push_back(c);
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) {
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

bool is_json_list(const std::string& body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string::npos && body[first] == '[';
}

} // namespace

std::vector<IndexLink> parse_html_index(const std::string& html, const std::string& page_url) {
  std::vector<IndexLink> links;
  Poco::URI page;
  try {
    page = Poco::URI(page_url);
  } catch (const Poco::Exception&) {
    return links;
  }
  std::size_t pos = 0;
  while ((pos = html.find("href=", pos)) != std::string::npos) {
    pos += 5;
    if (pos >= html.size()) {
      break;
    }
    const char quote = html[pos];
    std::size_t end;
    std::string raw;
    if (quote == '"' || quote == '\'') {
      end = html.find(quote, pos + 1);
      if (end == std::string::npos) {
        break;
      }
      raw = html.substr(pos + 1, end - pos - 1);
    } else {
      end = html.find_first_of(" >", pos);
      raw = html.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    }
    pos = end == std::string::npos ? html.size() : end;
    std::string href = decode_entities(raw);
    if (href.empty() || href[0] == '?' || href[0] == '#') {
      continue;
    }
    // Resolve against the page; keep only direct children of the page's folder.
    Poco::URI target(page);
    try {
      target.resolve(href);
    } catch (const Poco::Exception&) {
      continue;
    }
    if (target.getScheme() != page.getScheme() || target.getAuthority() != page.getAuthority() ||
        !target.getQuery().empty()) {
      continue;
    }
    const std::string base = page.getPath();
    const std::string path = target.getPath(); // decoded
    if (path.size() <= base.size() || path.compare(0, base.size(), base) != 0) {
      continue;
    }
    std::string name = path.substr(base.size());
    IndexLink link;
    if (name.back() == '/') {
      link.is_directory = true;
      name.pop_back();
    }
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      continue;
    }
    link.name = name;
    links.push_back(link);
  }
  return links;
}

std::vector<JsonIndexEntry> parse_json_index(const std::string& json) {
  std::vector<JsonIndexEntry> entries;
  Poco::JSON::Parser parser;
  const Poco::Dynamic::Var parsed = parser.parse(json);
  const auto array = parsed.extract<Poco::JSON::Array::Ptr>();
  if (!array) {
    throw std::runtime_error("not a JSON list");
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto object = array->getObject(static_cast<unsigned>(i));
    if (!object || !object->has("name") || !object->has("type")) {
      throw std::runtime_error("entry without name or type");
    }
    JsonIndexEntry entry;
    entry.name = object->getValue<std::string>("name");
    const std::string type = object->getValue<std::string>("type");
    entry.is_directory = type == "directory";
    if (type != "file" && type != "directory") {
      continue; // "other": sockets, devices
    }
    if (object->has("size")) {
      entry.size = object->getValue<std::uint64_t>("size");
    }
    entries.push_back(entry);
  }
  return entries;
}

HttpSource::HttpSource(std::string root_url, http::ClientOptions options, log::Logger& logger)
    : m_root(std::move(root_url)), m_options(std::move(options)), m_logger(logger) {
  if (m_root.empty() || m_root.back() != '/') {
    m_root.push_back('/');
  }
}

std::string HttpSource::describe() const {
  return http::redact(m_root);
}

std::string HttpSource::cache_key() const {
  try {
    Poco::URI uri(m_root);
    uri.setUserInfo("");
    std::string key = uri.getScheme() + "://" + Poco::toLower(uri.getHost());
    if (!uri.getPort() || (uri.getScheme() == "http" && uri.getPort() != 80) ||
        (uri.getScheme() == "https" && uri.getPort() != 443)) {
      key += ":" + std::to_string(uri.getPort());
    }
    return key + uri.getPathEtc();
  } catch (const Poco::Exception&) {
    return m_root;
  }
}

Listing HttpSource::list() {
  Listing listing;
  http::Client client(m_options, m_logger);
  std::string problems;
  const std::string csv_url = m_root + std::string(metadata::k_file_name);
  try {
    const std::string text = client.get_text(csv_url);
    try {
      metadata::Metadata metadata = metadata::parse_csv(text);
      listing.items.reserve(metadata.entries.size() + 1);
      for (auto& entry : metadata.entries) {
        std::string location = http::join(m_root, entry.path);
        listing.items.push_back({std::move(entry.path), std::nullopt, entry.sha256,
                                 std::move(location), false, nullptr});
      }
      // The metadata file itself, in its place among the paths (they are usually in order,
      // which spares the download a sort).
      const std::string name(metadata::k_file_name);
      const auto at = std::lower_bound(
          listing.items.begin(), listing.items.end(), name,
          [](const Item& item, const std::string& path) { return item.path < path; });
      listing.items.insert(at, {name, text.size(), std::nullopt, csv_url, false,
                                std::make_shared<const std::string>(text)});
      listing.method = "artifact-metadata.csv";
      listing.has_metadata = true;
      return listing;
    } catch (const metadata::ParseError& e) {
      m_logger.warning(std::string("hashes not used: ") + e.what() + "; listing the index instead");
    }
  } catch (const http::HttpStatusError& e) {
    problems = std::string(metadata::k_file_name) + ": " + std::to_string(e.status());
  }
  std::string problem;
  if (list_from_index(listing, problem)) {
    return listing;
  }
  throw http::NetworkError("cannot list " + describe() + ": tried " +
                           (problems.empty() ? "" : problems + " (not found), ") + problem);
}

bool HttpSource::list_from_index(Listing& listing, std::string& problem) {
  http::Client client(m_options, m_logger);
  std::deque<std::string> folders = {""};
  bool json = false;
  while (!folders.empty()) {
    const std::string folder = folders.front();
    folders.pop_front();
    const std::string url = folder.empty() ? m_root : http::join(m_root, folder) + "/";
    std::string body;
    try {
      body = client.get_text(url);
    } catch (const http::HttpStatusError& e) {
      if (folder.empty()) {
        problem = "the index page " + http::redact(url) + ": " + std::to_string(e.status());
        return false;
      }
      throw;
    }
    if (folder.empty()) {
      json = is_json_list(body);
    }
    std::size_t children = 0;
    const auto add = [&](const std::string& name, bool is_directory,
                         std::optional<std::uint64_t> size) {
      ++children;
      const std::string path = folder.empty() ? name : folder + "/" + name;
      if (is_directory) {
        folders.push_back(path);
      } else {
        listing.items.push_back(
            {path, size, std::nullopt, http::join(m_root, path), false, nullptr});
      }
    };
    if (json) {
      try {
        for (const auto& entry : parse_json_index(body)) {
          add(entry.name, entry.is_directory, entry.size);
        }
      } catch (const std::exception& e) {
        problem = "the JSON index " + http::redact(url) + ": " + e.what();
        return false;
      }
    } else {
      for (const auto& link : parse_html_index(body, url)) {
        add(link.name, link.is_directory, std::nullopt);
      }
    }
    if (children == 0 && !folder.empty()) {
      listing.items.push_back({folder, std::nullopt, std::nullopt, url, true, nullptr});
    }
  }
  listing.method = json ? "nginx JSON index" : "HTML index";
  if (!json && listing.items.empty()) {
    problem = "the HTML index " + describe() + ": no links to files";
    return false;
  }
  return true;
}

std::unique_ptr<Reader> HttpSource::open_reader() {
  return std::make_unique<HttpReader>(m_options, m_logger);
}

} // namespace shared::source
