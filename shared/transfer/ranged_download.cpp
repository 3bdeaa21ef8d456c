#include "shared/transfer/ranged_download.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/write_loop.hpp"
#include "shared/hash/file_hasher.hpp"
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

} // namespace

RangedResult download_ranged(const std::string& final_path, std::uint64_t size,
                             const std::optional<hash::Digest>& sha256, const Location& location,
                             const std::function<Location()>& refresh, const RangedOptions& options,
                             log::Logger& logger, progress::Reporter* progress,
                             std::string_view head) {
  RangedResult result;
  result.bytes = head.size() + size;
  const std::string part_path = final_path + std::string(fs::k_part_suffix);
  // A leftover is never "already downloaded": it is replaced.
  fs::Descriptor part(fs::create_part(AT_FDCWD, part_path, part_path));
  const int fd = part.get();
  try {
    if (::ftruncate(fd, static_cast<off_t>(head.size() + size)) != 0) {
      throw error::IoError(error::system_message("cannot size " + part_path, errno));
    }
    fs::pwrite_all(fd, head.data(), head.size(), 0, part_path);
    http::ClientOptions http = options.http;
    http.bearer_token.clear();
    http.username.clear();
    http.password.clear();
    const std::vector<Part> plan = plan_parts(size, options.part_size, options.parallel);
    const std::uint64_t parts = plan.size();
    SharedLocation shared(location, refresh, logger);
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
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> attempts{0};
    std::mutex mutex;
    std::exception_ptr failure;
    const auto work = [&] {
      try {
        http::Client client(http, logger);
        for (std::uint64_t k = next++; k < parts && !stop; k = next++) {
          if (options.http.cancelled && options.http.cancelled()) {
            throw error::Interrupted();
          }
          const std::uint64_t offset = plan[k].offset;
          const std::uint64_t length = plan[k].length;
          // Fresh locations this part asked for and tried first that answered 403 too.
          int refused = 0;
          for (;;) {
            const SharedLocation::Use use = shared.get(k);
            Trial trial(shared, k, use);
            http::Headers headers = use.location.headers;
            headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                              std::to_string(offset + length - 1));
            PartSink sink(fd, head.size(), k, offset, length, progress, options.http.cancelled,
                          hasher ? &*hasher : nullptr, &trial);
            try {
              client.get(use.location.url, sink, headers);
              if (sink.written() != length) {
                throw error::IntegrityError("part at " + std::to_string(offset) + ": got " +
                                            std::to_string(sink.written()) + " of " +
                                            std::to_string(length) + " bytes");
              }
              break;
            } catch (const http::HttpStatusError& e) {
              if (e.status() != 403) {
                throw;
              }
              if (use.first && ++refused >= std::max(options.refreshes_per_part, 1)) {
                throw http::HttpStatusError(
                    403, std::string(e.what()) + " (also with " + std::to_string(refused) +
                             " fresh locations, each tried first by this part)");
              }
              sink.restart();
              ++attempts;
              shared.refresh(use.generation, k, offset);
            }
          }
        }
        retries += client.retries();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) {
          failure = std::current_exception();
        }
        stop = true;
        if (hasher) {
          hasher->abandon(); // the parts after this one must not wait for it
        }
      }
    };
    std::vector<std::thread> threads;
    const auto workers = static_cast<unsigned>(
        std::min<std::uint64_t>(std::max(options.parallel, 1u), std::max<std::uint64_t>(parts, 1)));
    for (unsigned t = 0; t < workers; ++t) {
      threads.emplace_back(work);
    }
    for (auto& thread : threads) {
      thread.join();
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
    result.retries = retries;
    result.part_attempts = attempts;
    result.refreshed = shared.refreshed();
    if (::fsync(fd) != 0) {
      throw error::IoError(error::system_message("cannot write " + part_path, errno));
    }
    if (sha256) {
      std::optional<hash::Digest> got = hasher->finish();
      result.hashed_after = hasher->left();
      logger.debug("SHA-256: " + std::to_string(result.hashed_after) +
                   " bytes left to read after the last part" +
                   (got ? "" : "; read again (a part it had read was written again)"));
      if (!got) { // bytes it had read were written again: a second pass over the body
        ++result.rehashed;
        if (::lseek(reader.get(), static_cast<off_t>(head.size()), SEEK_SET) < 0) {
          throw error::IoError(error::system_message("cannot read " + part_path, errno));
        }
        hash::FileHasher again;
        got = again
                  .hash_fd(reader.get(), part_path,
                           [&options](std::size_t) {
                             if (options.http.cancelled && options.http.cancelled()) {
                               throw error::Interrupted();
                             }
                           })
                  .sha256;
      }
      if (*got != *sha256) {
        throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*sha256) +
                                    ", got " + hash::to_hex(*got));
      }
    }
    if (part.close() != 0) {
      throw error::IoError(error::system_message("cannot write " + part_path, errno));
    }
  } catch (...) {
    part.reset(-1);
    ::unlink(part_path.c_str());
    throw;
  }
  if (::rename(part_path.c_str(), final_path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(part_path.c_str());
    throw error::IoError(error::system_message("cannot rename " + part_path, saved));
  }
  return result;
}

} // namespace shared::transfer
