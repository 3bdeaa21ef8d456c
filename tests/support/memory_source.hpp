// An artifact store in memory, for tests of the transfer engine without a server: items as
// strings, with faults on request (corrupt bytes, a failing item, ranges ignored, slowness).
#pragma once

#include "shared/source/source.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace tests::support {

/// A source whose items are strings. Readers count the requests per item path. Thread-safe
/// once its items are added.
class MemorySource : public shared::source::Source {
public:
  /// How the store answers.
  struct Behaviour {
    /// Readers can fetch parts of items (supports_ranges()).
    bool ranges = true;
    /// As an HTTP server that ignores Range: fetch_first() sends the whole item and
    /// fetch_range() throws source::RangesUnsupported (supports_ranges() still says yes).
    bool ignores_ranges = false;
    /// Bytes per BodySink::write call.
    std::size_t chunk = 64u << 10;
    /// Waited after each chunk: a slow store.
    std::chrono::microseconds delay{0};
  };

  explicit MemorySource(Behaviour behaviour);
  MemorySource() : MemorySource(Behaviour{}) {}

  /// An item at `path` (also its location) with `content`.
  void add(const std::string& path, std::string content);
  /// The next `requests` requests for `path` (whole or ranged) send one byte wrong.
  void corrupt(const std::string& path, int requests);
  /// Every request for `path` throws error::IoError.
  void fail(const std::string& path);

  /// Every item, sorted by path, with its SHA-256 and (when `sizes`) its size.
  shared::source::Listing listing(bool sizes = true) const;

  /// Requests for `path`: whole fetches, and ranged ones (fetch_range, fetch_first).
  std::size_t whole_requests(const std::string& path) const;
  std::size_t ranged_requests(const std::string& path) const;

  std::string describe() const override { return "memory"; }
  std::string cache_key() const override { return "memory"; }
  shared::source::Listing list() override { return listing(); }
  std::unique_ptr<shared::source::Reader> open_reader() override;
  bool supports_ranges() const override { return m_behaviour.ranges; }

private:
  class Reader;
  struct Entry {
    std::string content;
    int corrupt = 0; // requests left to corrupt
    bool fails = false;
    std::size_t whole = 0;
    std::size_t ranged = 0;
  };

  // Streams bytes [offset, offset + length) of the item at `path` into `sink`, counting the
  // request as ranged or whole.
  void send(const std::string& path, std::uint64_t offset, std::uint64_t length, bool ranged,
            shared::http::BodySink& sink);

  Behaviour m_behaviour;
  mutable std::mutex m_mutex; // guards the entries' counters
  std::map<std::string, Entry> m_entries;
};

} // namespace tests::support
