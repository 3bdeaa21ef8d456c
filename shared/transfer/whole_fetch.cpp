#include "shared/transfer/whole_fetch.hpp"

#include "shared/fs/write_loop.hpp"
#include "shared/http/retry.hpp"

#include <cerrno>
#include <unistd.h>

namespace shared::transfer {

// Writes a body into the part file from its start, hashing (when checking) and counting the
// bytes as they come.
class WholeFetcher::Sink : public http::BodySink {
public:
  Sink(int fd, bool hashing, const RunContext& run) : m_fd(fd), m_hashing(hashing), m_run(run) {}

  void write(const char* data, std::size_t size) override {
    m_run.throw_if_cancelled();
    if (m_hashing) {
      m_sha256.update(data, size);
    }
    fs::write_all(m_fd, data, size, "the part file");
    m_bytes += size;
    m_run.progress.add_bytes(size);
  }

  void restart() override {
    m_run.progress.remove_bytes(m_bytes);
    m_bytes = 0;
    if (m_hashing) {
      m_sha256.finish();
    }
    if (::ftruncate(m_fd, 0) != 0 || ::lseek(m_fd, 0, SEEK_SET) != 0) {
      throw error::IoError(error::system_message("cannot truncate", errno));
    }
  }

  bool hashing() const { return m_hashing; }
  std::uint64_t bytes() const { return m_bytes; }
  hash::Digest digest() { return m_sha256.finish(); }
  const hash::Sha256& hash_state() const { return m_sha256; }

private:
  int m_fd;
  bool m_hashing;
  const RunContext& m_run;
  hash::Sha256 m_sha256;
  std::uint64_t m_bytes = 0;
};

WholeFetcher::WholeFetcher(source::Reader& reader, const RunContext& run)
    : m_reader(reader), m_run(run), m_random(std::random_device{}()) {}

std::optional<FirstSegment> WholeFetcher::fetch(const source::Item& item, int folder,
                                                const std::string& name, std::uint64_t probe) {
  for (int attempt = 0;; ++attempt) {
    try {
      return fetch_once(item, folder, name, probe);
    } catch (const source::RangesUnsupported& e) {
      if (probe == 0) {
        throw;
      }
      m_run.logger.info(item.path + ": " + e.what() + ": fetching it whole");
      probe = 0;
      --attempt; // this one does not count
    } catch (const error::IntegrityError& e) {
      if (attempt >= m_run.options.retry.retries) {
        throw;
      }
      probe = 0;
      wait_before_retry(item, attempt, e.what());
    }
  }
}

// One attempt: the item in place (nullopt), or its first `probe` bytes handed over.
std::optional<FirstSegment> WholeFetcher::fetch_once(const source::Item& item, int folder,
                                                     const std::string& name, std::uint64_t probe) {
  // A part file or symlink left at the part name by anyone is replaced, never followed; the
  // part file is deleted unless renamed into place or handed over.
  fs::PartFile part(folder, name, item.path, fs::Durability::none);
  Sink sink(part.descriptor(), m_run.checks_hash(item), m_run);
  try {
    if (const std::optional<std::uint64_t> size = write_body(item, sink, probe)) {
      return hand_over(std::move(part), sink, *size);
    }
    verify(item, sink);
    std::optional<fs::Fingerprint> fingerprint; // of the checked file, before its name changes
    if (sink.hashing()) {
      fingerprint = fs::Fingerprint::of_descriptor(part.descriptor());
    }
    part.commit();
    if (fingerprint) {
      m_run.tally.record_checked(item, fingerprint);
    }
  } catch (...) {
    m_run.progress.remove_bytes(sink.bytes());
    throw;
  }
  m_run.tally.bytes += sink.bytes();
  ++m_run.tally.downloaded;
  return std::nullopt;
}

// Streams the item into `sink`: the bytes the listing holds, the whole body, or with `probe`
// its first bytes only. Returns the item's size when only those came (exactly `probe` bytes).
std::optional<std::uint64_t> WholeFetcher::write_body(const source::Item& item, Sink& sink,
                                                      std::uint64_t probe) {
  if (item.content) {
    sink.write(item.content->data(), item.content->size());
    return std::nullopt;
  }
  if (probe == 0) {
    m_reader.fetch(item, sink);
    return std::nullopt;
  }
  const std::optional<std::uint64_t> size = m_reader.fetch_first(item, probe, sink);
  if (!size || *size <= sink.bytes()) {
    return std::nullopt; // the whole item came
  }
  if (sink.bytes() != probe) {
    throw error::IntegrityError("asked for the first " + std::to_string(probe) + " bytes, got " +
                                std::to_string(sink.bytes()));
  }
  return size;
}

// Throws error::IntegrityError when the part file's size or SHA-256 is not the listed one.
void WholeFetcher::verify(const source::Item& item, Sink& sink) const {
  if (item.size && sink.bytes() != *item.size) {
    throw error::IntegrityError("size mismatch: expected " + std::to_string(*item.size) +
                                " bytes, got " + std::to_string(sink.bytes()));
  }
  if (sink.hashing()) {
    const hash::Digest got = sink.digest();
    if (got != *item.sha256) {
      throw error::IntegrityError("SHA-256 mismatch: expected " + hash::to_hex(*item.sha256) +
                                  ", got " + hash::to_hex(got));
    }
  }
}

// The part file holding the first bytes, sized to the item, for its segments.
FirstSegment WholeFetcher::hand_over(fs::PartFile part, const Sink& sink,
                                     std::uint64_t size) const {
  if (::ftruncate(part.descriptor(), static_cast<off_t>(size)) != 0) {
    throw error::IoError(error::system_message("cannot size " + part.part_path(), errno));
  }
  std::unique_ptr<hash::Sha256> prefix;
  if (sink.hashing()) {
    prefix = std::make_unique<hash::Sha256>();
    sink.hash_state().copy_to(*prefix);
  }
  return FirstSegment{std::move(part), std::move(prefix), sink.bytes(), size};
}

// After an integrity failure of attempt `attempt` (from 0): counts the retry, logs it, and
// waits the backoff delay (throws error::Interrupted when cancelled meanwhile).
void WholeFetcher::wait_before_retry(const source::Item& item, int attempt,
                                     const std::string& why) {
  const http::RetryPolicy& retry = m_run.options.retry;
  ++m_run.tally.retries;
  m_run.logger.info("retry " + std::to_string(attempt + 1) + "/" + std::to_string(retry.retries) +
                    ": " + item.path + ": " + why);
  http::sleep_unless_cancelled(http::backoff_delay(retry, attempt + 1, m_random),
                               m_run.options.cancelled);
}

} // namespace shared::transfer
