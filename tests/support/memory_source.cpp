#include "tests/support/memory_source.hpp"

#include "shared/hash/sha256.hpp"

#include <algorithm>
#include <thread>

namespace tests::support {

using shared::source::Item;

class MemorySource::Reader : public shared::source::Reader {
public:
  explicit Reader(MemorySource& source) : m_source(source) {}

  void fetch(const Item& item, shared::http::BodySink& sink) override {
    m_source.send(item.location, 0, UINT64_MAX, false, sink);
  }

  void fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                   shared::http::BodySink& sink) override {
    const Behaviour& behaviour = m_source.m_behaviour;
    if (!behaviour.ranges || behaviour.ignores_ranges) {
      throw shared::source::RangesUnsupported("the store sent the whole item for a range");
    }
    m_source.send(item.location, offset, length, true, sink);
  }

  std::optional<std::uint64_t> fetch_first(const Item& item, std::uint64_t length,
                                           shared::http::BodySink& sink) override {
    const Behaviour& behaviour = m_source.m_behaviour;
    const std::uint64_t size = m_source.m_entries.at(item.location).content.size();
    if (!behaviour.ranges || behaviour.ignores_ranges || length >= size) {
      fetch(item, sink);
      return std::nullopt;
    }
    m_source.send(item.location, 0, length, true, sink);
    return size;
  }

private:
  MemorySource& m_source;
};

MemorySource::MemorySource(Behaviour behaviour) : m_behaviour(behaviour) {}

void MemorySource::add(const std::string& path, std::string content) {
  m_entries[path].content = std::move(content);
}

void MemorySource::corrupt(const std::string& path, int requests) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_entries.at(path).corrupt = requests;
}

void MemorySource::fail(const std::string& path) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_entries.at(path).fails = true;
}

shared::source::Listing MemorySource::listing(bool sizes) const {
  shared::source::Listing listing;
  listing.method = "memory";
  listing.has_metadata = true;
  for (const auto& [path, entry] : m_entries) {
    Item item;
    item.path = path;
    item.location = path;
    item.sha256 = shared::hash::sha256(entry.content);
    if (sizes) {
      item.size = entry.content.size();
    }
    listing.items.push_back(std::move(item));
  }
  return listing;
}

std::size_t MemorySource::whole_requests(const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_entries.at(path).whole;
}

std::size_t MemorySource::ranged_requests(const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_entries.at(path).ranged;
}

std::unique_ptr<shared::source::Reader> MemorySource::open_reader() {
  return std::make_unique<Reader>(*this);
}

void MemorySource::send(const std::string& path, std::uint64_t offset, std::uint64_t length,
                        bool ranged, shared::http::BodySink& sink) {
  bool corrupt = false;
  Entry& entry = m_entries.at(path);
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++(ranged ? entry.ranged : entry.whole);
    if (entry.fails) {
      throw shared::error::IoError("cannot read " + path + " from the store");
    }
    corrupt = entry.corrupt > 0;
    entry.corrupt -= corrupt ? 1 : 0;
  }
  std::string body = entry.content.substr(offset, length);
  if (corrupt && !body.empty()) {
    body[body.size() / 2] ^= 0x01;
  }
  shared::http::Response response;
  response.status = ranged ? 206 : 200;
  sink.start(response);
  for (std::size_t at = 0; at < body.size(); at += m_behaviour.chunk) {
    sink.write(body.data() + at, std::min(m_behaviour.chunk, body.size() - at));
    if (m_behaviour.delay.count() != 0) {
      std::this_thread::sleep_for(m_behaviour.delay);
    }
  }
}

} // namespace tests::support
