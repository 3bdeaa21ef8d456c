// Where an artifact comes from. One interface, one file per kind: a source lists the items of
// an artifact and streams any of them to a sink. Chosen by make_source() from the URL's
// scheme or an explicit provider. Later kinds (Jenkins, TeamCity, Azure DevOps, GitHub
// Actions, Azure Blob Storage, GA4GH DRS) fit the same shape.
#pragma once

#include "shared/error/error.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shared::source {

/// One item of an artifact.
struct Item {
  std::string path;                   ///< relative to the artifact root, '/' separators, as listed
  std::optional<std::uint64_t> size;  ///< bytes, when the listing says
  std::optional<hash::Digest> sha256; ///< when the listing says (artifact-metadata.csv)
  std::string location;               ///< how the source finds it: a URL or an absolute file path
  bool is_directory = false;          ///< an empty folder to create; nothing to fetch
  /// The bytes, when listing already fetched them (the metadata file): placed with no request.
  std::shared_ptr<const std::string> content;
};

/// A listing and where its hashes came from.
struct Listing {
  std::vector<Item> items;
  std::string method; ///< how it was listed, e.g. "artifact-metadata.csv", "nginx JSON index"
  bool has_metadata = false; ///< hashes come from the artifact's artifact-metadata.csv
};

/// A store that cannot send part of an item (an HTTP server that answered a Range request
/// with the whole body): the caller fetches the item whole instead.
class RangesUnsupported : public error::Error {
public:
  explicit RangesUnsupported(const std::string& message)
      : error::Error(error::ExitCode::items_failed, message) {}
};

/// Fetches items; one per worker (it may hold a connection). Not thread-safe.
class Reader {
public:
  virtual ~Reader() = default;
  /// Streams the item's bytes into `sink` (restart() is called before any retry). Throws
  /// http::HttpStatusError, http::NetworkError, error::IoError, or what the sink throws.
  virtual void fetch(const Item& item, http::BodySink& sink) = 0;
  /// Streams bytes [offset, offset + length) of the item into `sink`: an HTTP Range request
  /// (RFC 9110 §14.2, with Accept-Encoding: identity, answered 206), or a read at the offset
  /// of a file. Throws RangesUnsupported when the store cannot (this default), and what
  /// fetch() throws.
  virtual void fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                           http::BodySink& sink);
  /// Streams the item into `sink`, asking for its first `length` bytes only (HTTP: a Range
  /// request; a part must come unencoded, else RangesUnsupported). Returns the item's whole size in
  /// bytes when only a part was sent (206 with Content-Range), nullopt when the whole item was (a
  /// store that ignores Range, or this default, which is fetch()). Throws what fetch() throws.
  virtual std::optional<std::uint64_t> fetch_first(const Item& item, std::uint64_t length,
                                                   http::BodySink& sink);
  /// Request retries this reader has made so far.
  virtual std::uint64_t retries() const { return 0; }
};

/// An artifact's store.
class Source {
public:
  virtual ~Source() = default;

  /// The source for logs: a path, or a URL with credentials redacted.
  virtual std::string describe() const = 0;

  /// The key naming this artifact in a local cache: a generic web store uses its normalized
  /// root URL, a folder its absolute path; later providers use their own keys.
  virtual std::string cache_key() const = 0;

  /// Every item. Throws error::Error subclasses (network, I/O, usage) with a message that
  /// says what was tried.
  virtual Listing list() = 0;

  /// A reader for one worker.
  virtual std::unique_ptr<Reader> open_reader() = 0;

  /// Whether its readers' fetch_range() can work, so that a large item may be fetched in
  /// parts by several workers at once.
  virtual bool supports_ranges() const { return false; }
};

/// What a source may need from the run.
struct SourceContext {
  http::ClientOptions http; ///< for web stores
  log::Logger* logger = nullptr;
};

/// The source for `location` (a path, file:// URL or http(s):// URL). `provider` is "auto"
/// (by scheme), "file" or "http". Throws error::UsageError naming the source input when the
/// location does not fit the provider or does not exist.
std::unique_ptr<Source> make_source(const std::string& location, const std::string& provider,
                                    const SourceContext& context);

} // namespace shared::source
