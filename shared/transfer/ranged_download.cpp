#include "shared/transfer/ranged_download.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"
#include "shared/fs/write_loop.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/http/errors.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace shared::transfer {
namespace {

// Writes one part's body at its offset; stops (error::Interrupted) within one buffer of the
// run being cancelled.
class PartSink : public http::BodySink {
public:
  // `offset`: of the part in the body; the body starts at byte `base` of the file.
  PartSink(int fd, std::uint64_t base, std::uint64_t offset, std::uint64_t length,
           progress::Reporter* progress, const std::function<bool()>& cancelled)
      : m_fd(fd), m_base(base), m_offset(offset), m_length(length), m_progress(progress),
        m_cancelled(cancelled) {}

  void start(const http::Response& response) override {
    if (response.status != 206) {
      throw error::IntegrityError("asked for bytes " + std::to_string(m_offset) + "-" +
                                  std::to_string(m_offset + m_length - 1) + ", got status " +
                                  std::to_string(response.status) + " instead of 206");
    }
  }

  void write(const char* data, std::size_t size) override {
    if (m_cancelled && m_cancelled()) {
      throw error::Interrupted();
    }
    if (m_written + size > m_length) {
      throw error::IntegrityError("the server sent more than the range asked for");
    }
    fs::pwrite_all(m_fd, data, size, m_base + m_offset + m_written, "the part file");
    m_written += size;
    if (m_progress != nullptr) {
      m_progress->add_bytes(size);
    }
  }

  void restart() override {
    if (m_progress != nullptr) {
      m_progress->remove_bytes(m_written);
    }
    m_written = 0;
  }

  std::uint64_t written() const { return m_written; }

private:
  int m_fd;
  std::uint64_t m_base;
  std::uint64_t m_offset;
  std::uint64_t m_length;
  progress::Reporter* m_progress;
  const std::function<bool()>& m_cancelled;
  std::uint64_t m_written = 0;
};

// The location all workers use, refreshed once per 403 however many parts saw it.
class SharedLocation {
public:
  SharedLocation(Location location, const std::function<Location()>& refresh)
      : m_location(std::move(location)), m_refresh(refresh) {}

  std::pair<Location, std::uint64_t> get() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return {m_location, m_generation};
  }

  // After a 403 on generation `seen`: a fresh location unless another part got one already.
  void refresh(std::uint64_t seen) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (seen == m_generation) {
      m_location = m_refresh();
      ++m_generation;
      ++m_refreshed;
    }
  }

  std::uint64_t refreshed() const { return m_refreshed; }

private:
  std::mutex m_mutex;
  Location m_location;
  std::uint64_t m_generation = 0;
  std::uint64_t m_refreshed = 0;
  const std::function<Location()>& m_refresh;
};

} // namespace

RangedResult download_ranged(const std::string& final_path, std::uint64_t size,
                             const std::optional<hash::Digest>& sha256, const Location& location,
                             const std::function<Location()>& refresh, const RangedOptions& options,
                             log::Logger& logger, progress::Reporter* progress,
                             std::string_view head) {
  RangedResult result;
  result.bytes = head.size() + size;
  const std::string part_path = final_path + std::string(fs::k_part_suffix);
  ::unlink(part_path.c_str()); // a leftover is never "already downloaded"
  int fd = ::open(part_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw error::IoError(error::system_message("cannot create " + part_path, errno));
  }
  try {
    if (::ftruncate(fd, static_cast<off_t>(head.size() + size)) != 0) {
      throw error::IoError(error::system_message("cannot size " + part_path, errno));
    }
    fs::pwrite_all(fd, head.data(), head.size(), 0, part_path);
    http::ClientOptions http = options.http;
    http.bearer_token.clear();
    http.username.clear();
    http.password.clear();
    const std::uint64_t part_size = std::max<std::uint64_t>(options.part_size, 1);
    const std::uint64_t parts = size == 0 ? 0 : (size + part_size - 1) / part_size;
    SharedLocation shared(location, refresh);
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
          const std::uint64_t offset = k * part_size;
          const std::uint64_t length = std::min(part_size, size - offset);
          for (int refreshes = 0;; ++refreshes) {
            auto [where, generation] = shared.get();
            http::Headers headers = where.headers;
            headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                              std::to_string(offset + length - 1));
            PartSink sink(fd, head.size(), offset, length, progress, options.http.cancelled);
            try {
              client.get(where.url, sink, headers);
              if (sink.written() != length) {
                throw error::IntegrityError("part at " + std::to_string(offset) + ": got " +
                                            std::to_string(sink.written()) + " of " +
                                            std::to_string(length) + " bytes");
              }
              break;
            } catch (const http::HttpStatusError& e) {
              if (e.status() != 403 || refreshes >= options.refreshes_per_part) {
                throw;
              }
              sink.restart();
              ++attempts;
              logger.info("the location answered 403 (expired?): asking for a fresh one");
              shared.refresh(generation);
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
      const int reading = ::open(part_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (reading < 0) {
        throw error::IoError(error::system_message("cannot read " + part_path, errno));
      }
      hash::FileHash got{};
      try {
        if (::lseek(reading, static_cast<off_t>(head.size()), SEEK_SET) < 0) {
          throw error::IoError(error::system_message("cannot read " + part_path, errno));
        }
        hash::FileHasher hasher;
        got = hasher.hash_fd(reading, part_path, [&options](std::size_t) {
          if (options.http.cancelled && options.http.cancelled()) {
            throw error::Interrupted();
          }
        });
      } catch (...) {
        ::close(reading);
        throw;
      }
      ::close(reading);
      if (got.sha256 != *sha256) {
        throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*sha256) +
                                    ", got " + hash::to_hex(got.sha256));
      }
    }
    const int closing = fd;
    fd = -1; // closed even when close() fails: never twice
    if (::close(closing) != 0) {
      throw error::IoError(error::system_message("cannot write " + part_path, errno));
    }
  } catch (...) {
    if (fd >= 0) {
      ::close(fd);
    }
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
