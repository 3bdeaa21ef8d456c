#include "shared/source/access_url.hpp"

#include "shared/http/errors.hpp"

#include <algorithm>
#include <utility>

namespace shared::source {
namespace {

// The credentials of the options are never sent to an access URL: a presigned URL carries its
// own.
http::ClientOptions without_credentials(http::ClientOptions http) {
  http.bearer_token.clear();
  http.username.clear();
  http.password.clear();
  return http;
}

// Forwards a part's body to the caller's sink once it is answered 206, and ends the part's
// trial of a fresh URL when the response begins (or, failing that, when it goes out of scope).
class RangeAnswer : public http::BodySink {
public:
  RangeAnswer(http::BodySink& sink, SharedAccessUrl& url, std::uint64_t offset,
              std::uint64_t length, const SharedAccessUrl::Use& use)
      : m_sink(sink), m_url(url), m_offset(offset), m_length(length), m_generation(use.generation),
        m_trial(use.first) {}
  ~RangeAnswer() override { end_trial(); }
  RangeAnswer(const RangeAnswer&) = delete;
  RangeAnswer& operator=(const RangeAnswer&) = delete;

  void start(const http::Response& response) override {
    end_trial();
    if (response.status != 206) {
      throw http::ProtocolError("asked for bytes " + std::to_string(m_offset) + "-" +
                                std::to_string(m_offset + m_length - 1) + ", got status " +
                                std::to_string(response.status) + " instead of 206");
    }
    m_sink.start(response);
  }
  void write(const char* data, std::size_t size) override { m_sink.write(data, size); }
  void restart() override { m_sink.restart(); }

private:
  void end_trial() {
    if (m_trial) {
      m_trial = false;
      m_url.tried(m_offset, m_generation);
    }
  }

  http::BodySink& m_sink;
  SharedAccessUrl& m_url;
  std::uint64_t m_offset;
  std::uint64_t m_length;
  std::uint64_t m_generation;
  bool m_trial;
};

} // namespace

SharedAccessUrl::SharedAccessUrl(AccessUrl url, std::function<AccessUrl()> refresh,
                                 log::Logger& logger)
    : m_url(std::move(url)), m_refresh(std::move(refresh)), m_logger(logger) {}

SharedAccessUrl::Use SharedAccessUrl::get(std::uint64_t part) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_tried.wait(lock, [&] { return !m_trial || m_trial_part == part; });
  return {m_url, m_generation, m_trial};
}

void SharedAccessUrl::tried(std::uint64_t part, std::uint64_t generation) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_trial && m_trial_part == part && m_generation == generation) {
    m_trial = false;
    m_tried.notify_all();
  }
}

void SharedAccessUrl::refresh(std::uint64_t seen, std::uint64_t part) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (seen != m_generation) {
    m_logger.debug("part at " + std::to_string(part) +
                   ": 403 on a location already replaced; trying the current one");
    return;
  }
  m_logger.info("the location answered 403 (expired?): asking for a fresh one");
  m_url = m_refresh();
  ++m_generation;
  ++m_refreshed;
  m_trial = true;
  m_trial_part = part;
}

std::uint64_t SharedAccessUrl::refreshed() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_refreshed;
}

AccessUrlReader::AccessUrlReader(SharedAccessUrl& url, http::ClientOptions http,
                                 int refreshes_per_part, log::Logger& logger)
    : m_url(url), m_refreshes_per_part(std::max(refreshes_per_part, 1)),
      m_client(without_credentials(std::move(http)), logger) {}

void AccessUrlReader::fetch(const Item& item, http::BodySink& sink) {
  (void)item;
  const SharedAccessUrl::Use use = m_url.get(0);
  m_client.get(use.url.url, sink, use.url.headers);
}

void AccessUrlReader::fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                                  http::BodySink& sink) {
  (void)item;
  int refused = 0; // fresh URLs this part asked for and tried first that answered 403 too
  for (;;) {
    const SharedAccessUrl::Use use = m_url.get(offset);
    http::Headers headers = use.url.headers;
    headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                      std::to_string(offset + length - 1));
    try {
      RangeAnswer answer(sink, m_url, offset, length, use);
      m_client.get(use.url.url, answer, headers);
      return;
    } catch (const http::HttpStatusError& e) {
      if (e.status() != 403) {
        throw;
      }
      if (use.first && ++refused >= m_refreshes_per_part) {
        throw http::HttpStatusError(403, std::string(e.what()) + " (also with " +
                                             std::to_string(refused) +
                                             " fresh locations, each tried first by this part)");
      }
      sink.restart();
      ++m_attempts;
      m_url.refresh(use.generation, offset);
    }
  }
}

} // namespace shared::source
