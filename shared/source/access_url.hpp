// Reading a DRS object's bytes from its access URL (GA4GH DRS 1.x access_url): HTTP Range
// requests (RFC 9110 §14) with the URL's headers, answered 206, and a fresh URL after a 403.
#pragma once

#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"
#include "shared/source/source.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace shared::source {

/// Where an object's bytes are: a URL and the headers to send with it (a DRS access_url).
struct AccessUrl {
  std::string url;
  http::Headers headers;
};

/// The access URL the readers of one object share. A 403 on the current URL makes the part
/// that saw it ask `refresh` for a fresh one (once per URL, however many parts saw the 403),
/// and that part tries the fresh URL first: the other parts wait to start a request until its
/// request has an answer (its response headers, or its failure). So a 403 on a fresh URL is
/// about that part, never a URL other parts had used up (one-time or few-use presigned URLs).
/// A part is named by its offset in bytes. Thread-safe.
class SharedAccessUrl {
public:
  /// What get() hands out: `first` when the part asked for this fresh URL and tries it before
  /// anyone else.
  struct Use {
    AccessUrl url;
    std::uint64_t generation = 0;
    bool first = false;
  };

  /// `refresh` may block; what it throws is thrown to the part that asked.
  SharedAccessUrl(AccessUrl url, std::function<AccessUrl()> refresh, log::Logger& logger);

  /// The URL for the next request of the part at `part`; waits while another part is trying a
  /// fresh one.
  Use get(std::uint64_t part);
  /// The request of the part at `part` on generation `generation` has an answer (or none will
  /// come): the other parts may use that URL too.
  void tried(std::uint64_t part, std::uint64_t generation);
  /// After a 403 to the part at `part` on generation `seen`: a fresh URL, which that part then
  /// tries first, unless another part got one already. Throws what `refresh` throws.
  void refresh(std::uint64_t seen, std::uint64_t part);
  /// Fresh URLs asked for so far.
  std::uint64_t refreshed() const;

private:
  mutable std::mutex m_mutex;
  std::condition_variable m_tried;
  AccessUrl m_url;
  std::uint64_t m_generation = 0;
  std::uint64_t m_refreshed = 0;
  bool m_trial = false; // m_trial_part has not had an answer on the current URL yet
  std::uint64_t m_trial_part = 0;
  std::function<AccessUrl()> m_refresh;
  log::Logger& m_logger;
};

/// Reads one object's bytes through a SharedAccessUrl (the item's own location is not used);
/// one per worker. fetch_range() throws http::ProtocolError when a Range request is answered
/// other than 206, and http::HttpStatusError(403) when `refreshes_per_part` (at least 1) fresh
/// URLs this part asked for, and tried first, answered 403 too; a 403 on a URL other parts may
/// have used up does not count: it gets a fresh URL. The credentials of `http` (token, user,
/// password) are never sent: a presigned URL carries its own. Not thread-safe.
class AccessUrlReader : public Reader {
public:
  AccessUrlReader(SharedAccessUrl& url, http::ClientOptions http, int refreshes_per_part,
                  log::Logger& logger);

  void fetch(const Item& item, http::BodySink& sink) override;
  void fetch_range(const Item& item, std::uint64_t offset, std::uint64_t length,
                   http::BodySink& sink) override;
  std::uint64_t retries() const override { return m_client.retries(); }
  /// Part requests made again after a 403.
  std::uint64_t attempts() const { return m_attempts; }

private:
  SharedAccessUrl& m_url;
  int m_refreshes_per_part;
  http::Client m_client;
  std::uint64_t m_attempts = 0;
};

} // namespace shared::source
