#include "shared/transfer/ranged_download.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/write_loop.hpp"
#include "shared/http/errors.hpp"
#include "shared/transfer/following_hasher.hpp"
#include "shared/transfer/part_writer.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace shared::transfer {
namespace {

// The location all workers use. A 403 on the current generation makes the part that saw it
// ask for a fresh location (one per generation, however many parts saw the 403), and that part
// tries the fresh one first: the other workers wait to start a request until its request has
// an answer (its response headers, or its failure). So a 403 on a fresh location is about that
// part, never a location other parts had used up (one-time or few-use presigned URLs), and only
// such 403s count against the part. A 403 on a location that was replaced meanwhile is simply
// tried again with the current one.
class SharedLocation {
public:
  // What get() hands out: `first` when the part asked for this fresh location and tries it
  // before anyone else.
  struct Use {
    Location location;
    std::uint64_t generation = 0;
    bool first = false;
  };

  SharedLocation(Location location, const std::function<Location()>& refresh, log::Logger& logger)
      : m_location(std::move(location)), m_refresh(refresh), m_logger(logger) {}

  // The location for part `part`'s next request; waits while another part is trying a fresh one.
  Use get(std::uint64_t part) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_tried.wait(lock, [&] { return !m_trial || m_trial_part == part; });
    return {m_location, m_generation, m_trial};
  }

  // Part `part`'s request on generation `generation`, the fresh location it asked for, has an
  // answer (or none will come): the other parts may use it too. No effect on another part's
  // trial or a later generation's.
  void tried(std::uint64_t part, std::uint64_t generation) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_trial && m_trial_part == part && m_generation == generation) {
      m_trial = false;
      m_tried.notify_all();
    }
  }

  // After a 403 to part `part` on generation `seen`: a fresh location, which `part` then tries
  // first, unless another part got one already. Throws what `refresh` throws.
  void refresh(std::uint64_t seen, std::uint64_t part, std::uint64_t offset) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (seen != m_generation) {
      m_logger.debug("part at " + std::to_string(offset) +
                     ": 403 on a location already replaced; trying the current one");
      return;
    }
    m_logger.info("the location answered 403 (expired?): asking for a fresh one");
    m_location = m_refresh();
    ++m_generation;
    ++m_refreshed;
    m_trial = true;
    m_trial_part = part;
  }

  std::uint64_t refreshed() const { return m_refreshed; }

private:
  std::mutex m_mutex;
  std::condition_variable m_tried;
  Location m_location;
  std::uint64_t m_generation = 0;
  std::uint64_t m_refreshed = 0;
  bool m_trial = false; // m_trial_part has not had an answer on the current location yet
  std::uint64_t m_trial_part = 0;
  const std::function<Location()>& m_refresh;
  log::Logger& m_logger;
};

// Ends a part's trial of a fresh location when it goes out of scope (the request failed or
// returned) unless it ended earlier, at the response's first bytes.
class Trial {
public:
  Trial(SharedLocation& shared, std::uint64_t part, const SharedLocation::Use& use)
      : m_shared(shared), m_part(part), m_generation(use.generation), m_active(use.first) {}
  ~Trial() { end(); }
  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;
  void end() {
    if (m_active) {
      m_active = false;
      m_shared.tried(m_part, m_generation);
    }
  }

private:
  SharedLocation& m_shared;
  std::uint64_t m_part;
  std::uint64_t m_generation;
  bool m_active;
};

// One part's body at its offset (PartWriter), answered 206 or refused; ends the part's trial of
// a fresh location when the response begins.
class PartSink : public PartWriter {
public:
  // `trial` (may be null) is ended when the response begins.
  PartSink(int fd, std::uint64_t base, std::uint64_t k, std::uint64_t offset, std::uint64_t length,
           progress::Reporter* progress, const std::function<bool()>& cancelled,
           FollowingHasher* hasher, Trial* trial)
      : PartWriter(fd, base, static_cast<std::size_t>(k), offset, length, hasher, progress,
                   cancelled),
        m_trial(trial) {}

  void start(const http::Response& response) override {
    if (m_trial != nullptr) {
      m_trial->end();
    }
    if (response.status != 206) {
      throw http::ProtocolError("asked for bytes " + std::to_string(offset()) + "-" +
                                std::to_string(offset() + length() - 1) + ", got status " +
                                std::to_string(response.status) + " instead of 206");
    }
  }

private:
  Trial* m_trial;
};

// The parts of a body of `size` bytes: `part_size` each, but the last `parallel` x `part_size`
// bytes in parts of part_size / parallel (at least k_min_tail_part): the parts still in flight
// when the last one lands, the bytes the SHA-256 follower must read after it, are then few.
std::vector<Part> plan_parts(std::uint64_t size, std::uint64_t part_size, unsigned parallel) {
  constexpr std::uint64_t k_min_tail_part = 1u << 20;
  part_size = std::max<std::uint64_t>(part_size, 1);
  parallel = std::max(parallel, 1u);
  const std::uint64_t small = std::max(part_size / parallel, k_min_tail_part);
  const std::uint64_t tail = small < part_size ? std::min(size, parallel * part_size) : 0;
  std::vector<Part> parts;
  for (std::uint64_t at = 0; at < size;) {
    const bool big = at + part_size <= size - tail; // big parts never reach into the tail
    const std::uint64_t length = std::min(big ? part_size : small, size - at);
    parts.push_back({at, length});
    at += length;
  }
  return parts;
}

// Fetches the parts of one body on several workers, each with its own HTTP client, writing
// them at their offsets into the part file.
class PartWorkers {
public:
  // `fd`: the part file, the body starting at its byte `base`; `hasher` may be null.
  PartWorkers(int fd, std::uint64_t base, const std::vector<Part>& plan, SharedLocation& location,
              const RangedOptions& options, log::Logger& logger, progress::Reporter* progress,
              FollowingHasher* hasher)
      : m_fd(fd), m_base(base), m_plan(plan), m_location(location), m_options(options),
        m_http(without_credentials(options.http)), m_logger(logger), m_progress(progress),
        m_hasher(hasher) {}

  // Fetches every part on up to options.parallel threads; throws the first failure.
  void run() {
    const auto workers = static_cast<unsigned>(std::min<std::uint64_t>(
        std::max(m_options.parallel, 1u), std::max<std::uint64_t>(m_plan.size(), 1)));
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < workers; ++t) {
      threads.emplace_back([this] { work(); });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    if (m_failure) {
      std::rethrow_exception(m_failure);
    }
  }

  std::uint64_t retries() const { return m_retries; }
  std::uint64_t attempts() const { return m_attempts; }

private:
  // The credentials of the options are never sent to the location: a presigned URL carries its
  // own.
  static http::ClientOptions without_credentials(http::ClientOptions http) {
    http.bearer_token.clear();
    http.username.clear();
    http.password.clear();
    return http;
  }

  // One worker: the next part until none is left or a part failed.
  void work() {
    try {
      http::Client client(m_http, m_logger);
      for (std::uint64_t k = m_next++; k < m_plan.size() && !m_stop; k = m_next++) {
        if (m_options.http.cancelled && m_options.http.cancelled()) {
          throw error::Interrupted();
        }
        fetch_part(client, k);
      }
      m_retries += client.retries();
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (!m_failure) {
        m_failure = std::current_exception();
      }
      m_stop = true;
      if (m_hasher != nullptr) {
        m_hasher->abandon(); // the parts after this one must not wait for it
      }
    }
  }

  // Part `k`, from the shared location; after a 403, from a fresh one (see SharedLocation).
  void fetch_part(http::Client& client, std::uint64_t k) {
    const std::uint64_t offset = m_plan[k].offset;
    const std::uint64_t length = m_plan[k].length;
    int refused = 0; // fresh locations this part asked for and tried first that answered 403 too
    for (;;) {
      const SharedLocation::Use use = m_location.get(k);
      Trial trial(m_location, k, use);
      http::Headers headers = use.location.headers;
      headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                        std::to_string(offset + length - 1));
      PartSink sink(m_fd, m_base, k, offset, length, m_progress, m_options.http.cancelled, m_hasher,
                    &trial);
      try {
        client.get(use.location.url, sink, headers);
        if (sink.written() != length) {
          throw error::IntegrityError("part at " + std::to_string(offset) + ": got " +
                                      std::to_string(sink.written()) + " of " +
                                      std::to_string(length) + " bytes");
        }
        return;
      } catch (const http::HttpStatusError& e) {
        if (e.status() != 403) {
          throw;
        }
        if (use.first && ++refused >= std::max(m_options.refreshes_per_part, 1)) {
          throw http::HttpStatusError(403, std::string(e.what()) + " (also with " +
                                               std::to_string(refused) +
                                               " fresh locations, each tried first by this part)");
        }
        sink.restart();
        ++m_attempts;
        m_location.refresh(use.generation, k, offset);
      }
    }
  }

  int m_fd;
  std::uint64_t m_base;
  const std::vector<Part>& m_plan;
  SharedLocation& m_location;
  const RangedOptions& m_options;
  http::ClientOptions m_http;
  log::Logger& m_logger;
  progress::Reporter* m_progress;
  FollowingHasher* m_hasher;
  std::atomic<std::uint64_t> m_next{0};
  std::atomic<bool> m_stop{false};
  std::atomic<std::uint64_t> m_retries{0};
  std::atomic<std::uint64_t> m_attempts{0};
  std::mutex m_mutex; // guards m_failure
  std::exception_ptr m_failure;
};

// Writes the body into the part file `fd` after `head` and checks it against `sha256` (when
// given).
void fetch_body(int fd, const std::string& part_path, std::uint64_t size,
                const std::optional<hash::Digest>& sha256, SharedLocation& location,
                const RangedOptions& options, log::Logger& logger, progress::Reporter* progress,
                std::string_view head, RangedResult& result) {
  if (::ftruncate(fd, static_cast<off_t>(head.size() + size)) != 0) {
    throw error::IoError(error::system_message("cannot size " + part_path, errno));
  }
  fs::pwrite_all(fd, head.data(), head.size(), 0, part_path);
  const std::vector<Part> plan = plan_parts(size, options.part_size, options.parallel);
  // The SHA-256 follows the parts as they land (FollowingHasher's thread).
  fs::Descriptor reader;
  std::optional<FollowingHasher> hasher;
  if (sha256) {
    reader.reset(::open(part_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (reader.get() < 0) {
      throw error::IoError(error::system_message("cannot read " + part_path, errno));
    }
    hasher.emplace(reader.get(), head.size(), size, plan, options.http.cancelled);
  }
  PartWorkers workers(fd, head.size(), plan, location, options, logger, progress,
                      hasher ? &*hasher : nullptr);
  workers.run();
  result.retries = workers.retries();
  result.part_attempts = workers.attempts();
  result.refreshed = location.refreshed();
  if (sha256) {
    const hash::Digest got = hasher->finish_or_read_again(part_path);
    result.hashed_after = hasher->left();
    result.rehashed = hasher->read_again() ? 1 : 0;
    logger.debug(
        "SHA-256: " + std::to_string(result.hashed_after) +
        " bytes left to read after the last part" +
        (hasher->read_again() ? "; read again (a part it had read was written again)" : ""));
    if (got != *sha256) {
      throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*sha256) + ", got " +
                                  hash::to_hex(got));
    }
  }
}

} // namespace

RangedResult download_ranged(const std::string& final_path, std::uint64_t size,
                             const std::optional<hash::Digest>& sha256, const Location& location,
                             const std::function<Location()>& refresh, const RangedOptions& options,
                             log::Logger& logger, progress::Reporter* progress,
                             std::string_view head) {
  RangedResult result;
  result.bytes = head.size() + size;
  // A leftover is never "already downloaded": it is replaced. Deleted unless committed.
  fs::PartFile part(final_path, fs::Durability::flush);
  SharedLocation shared(location, refresh, logger);
  fetch_body(part.descriptor(), part.part_path(), size, sha256, shared, options, logger, progress,
             head, result);
  part.commit();
  return result;
}

} // namespace shared::transfer
