#include "shared/zip/source_bodies.hpp"

#include "shared/error/error.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace shared::zip {
namespace {

// Stops a fetch whose reader went away.
struct Abandoned : std::exception {
  const char* what() const noexcept override { return "abandoned"; }
};

// A bounded byte queue between the fetching thread (an http::BodySink) and the writer (a
// BodyReader).
class StreamingBody : public BodyReader, public http::BodySink {
public:
  // `release` takes the reader back once the fetch is over.
  StreamingBody(std::unique_ptr<source::Reader> reader, const source::Item& item,
                std::function<void(std::unique_ptr<source::Reader>)> release)
      : m_path(item.path), m_release(std::move(release)),
        m_thread([this, &item, reader = std::move(reader)]() mutable {
          fetch(*reader, item);
          m_release(std::move(reader));
        }) {}

  ~StreamingBody() override {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_abandoned = true;
    }
    m_changed.notify_all();
    m_thread.join();
  }

  // BodyReader, on the writer's thread.
  std::size_t read(char* buffer, std::size_t size) override {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_changed.wait(lock, [this] { return !m_chunks.empty() || m_done; });
    if (m_chunks.empty()) {
      if (m_error) {
        std::rethrow_exception(m_error);
      }
      return 0;
    }
    std::vector<char>& chunk = m_chunks.front();
    const std::size_t n = std::min(size, chunk.size() - m_offset);
    std::memcpy(buffer, chunk.data() + m_offset, n);
    m_offset += n;
    m_buffered -= n;
    m_handed_out += n;
    if (m_offset == chunk.size()) {
      m_chunks.pop_front();
      m_offset = 0;
    }
    lock.unlock();
    m_changed.notify_all();
    return n;
  }

  // http::BodySink, on the fetching thread.
  void write(const char* data, std::size_t size) override {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_changed.wait(
        lock, [this] { return m_abandoned || m_buffered < SourceBodyProvider::k_buffer_bytes; });
    if (m_abandoned) {
      throw Abandoned();
    }
    m_chunks.emplace_back(data, data + size);
    m_buffered += size;
    lock.unlock();
    m_changed.notify_all();
  }

  void restart() override {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_handed_out > 0) {
      throw error::IoError(m_path + ": the connection failed after " +
                           std::to_string(m_handed_out) +
                           " bytes were in the archive, which cannot take them back");
    }
    m_chunks.clear();
    m_buffered = 0;
    m_offset = 0;
  }

private:
  void fetch(source::Reader& reader, const source::Item& item) {
    std::exception_ptr error;
    try {
      if (item.content) {
        write(item.content->data(), item.content->size());
      } else {
        reader.fetch(item, *this);
      }
    } catch (const Abandoned&) {
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_done = true;
      m_error = error;
    }
    m_changed.notify_all();
  }

  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<std::vector<char>> m_chunks;
  std::size_t m_offset = 0;       // into m_chunks.front()
  std::size_t m_buffered = 0;     // bytes in m_chunks not yet read
  std::uint64_t m_handed_out = 0; // bytes read() gave the writer
  bool m_done = false;
  bool m_abandoned = false;
  std::exception_ptr m_error;
  std::string m_path; // the item's, for messages
  std::function<void(std::unique_ptr<source::Reader>)> m_release;
  std::thread m_thread; // last: starts once the members above exist
};

} // namespace

SourceBodyProvider::SourceBodyProvider(source::Source& source,
                                       std::unordered_map<std::string, const source::Item*> items)
    : m_source(source), m_items(std::move(items)), m_pool(std::make_shared<ReaderPool>()) {}

SourceBodyProvider::~SourceBodyProvider() = default;

std::unique_ptr<BodyReader> SourceBodyProvider::open(const Entry& entry, std::uint64_t offset) {
  if (offset != 0) {
    throw std::invalid_argument("a source's bodies are read from their start only");
  }
  const source::Item* item = m_items.at(entry.source_or_path());
  std::unique_ptr<source::Reader> reader;
  {
    std::lock_guard<std::mutex> lock(m_pool->mutex);
    if (!m_pool->readers.empty()) {
      reader = std::move(m_pool->readers.back());
      m_pool->readers.pop_back();
    }
  }
  if (!reader) {
    reader = m_source.open_reader();
  }
  // A body the writer stopped reading early may still be fetching: its reader comes back to
  // the pool when it is done, and the next body takes another.
  return std::make_unique<StreamingBody>(std::move(reader), *item,
                                         [pool = m_pool](std::unique_ptr<source::Reader> done) {
                                           std::lock_guard<std::mutex> lock(pool->mutex);
                                           pool->readers.push_back(std::move(done));
                                         });
}

} // namespace shared::zip
