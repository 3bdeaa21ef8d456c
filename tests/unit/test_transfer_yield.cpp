// While a segmented item's SHA-256 follows its segments, the download's workers run
// parallel::k_yield_steps nice levels below the thread that started it; otherwise they keep
// its priority. Observed through a source that notes the priority of each fetching thread.
#include "shared/hash/sha256.hpp"
#include "shared/parallel/thread_starter.hpp"
#include "shared/source/file_source.hpp"
#include "shared/transfer/downloader.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

using namespace tests::support;

namespace {

int own_nice() {
  errno = 0;
  const int value = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  return errno == 0 ? value : -100;
}

// A FileSource whose readers note the nice value of every thread that fetches through them.
class NotingSource : public shared::source::Source {
public:
  NotingSource(const std::string& root, shared::log::Logger& logger) : m_inner(root, logger) {}
  std::string describe() const override { return m_inner.describe(); }
  std::string cache_key() const override { return m_inner.cache_key(); }
  shared::source::Listing list() override { return m_inner.list(); }
  bool supports_ranges() const override { return true; }
  std::unique_ptr<shared::source::Reader> open_reader() override {
    return std::make_unique<Reader>(m_inner.open_reader(), *this);
  }
  std::set<int> seen() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_seen;
  }

private:
  struct Reader : shared::source::Reader {
    Reader(std::unique_ptr<shared::source::Reader> inner, NotingSource& source)
        : inner(std::move(inner)), source(source) {}
    void fetch(const shared::source::Item& item, shared::http::BodySink& sink) override {
      source.note();
      inner->fetch(item, sink);
    }
    void fetch_range(const shared::source::Item& item, std::uint64_t offset, std::uint64_t length,
                     shared::http::BodySink& sink) override {
      source.note();
      inner->fetch_range(item, offset, length, sink);
    }
    std::optional<std::uint64_t> fetch_first(const shared::source::Item& item, std::uint64_t length,
                                             shared::http::BodySink& sink) override {
      source.note();
      return inner->fetch_first(item, length, sink);
    }
    std::unique_ptr<shared::source::Reader> inner;
    NotingSource& source;
  };
  void note() {
    const int value = own_nice();
    std::lock_guard<std::mutex> lock(m_mutex);
    m_seen.insert(value);
  }

  shared::source::FileSource m_inner;
  mutable std::mutex m_mutex;
  std::set<int> m_seen;
};

} // namespace

TEST_CASE("the workers yield to a segmented item's SHA-256, and only then", "[transfer]") {
  const int base = own_nice();
  REQUIRE(base != -100);
  TempDir dir;
  const std::string big(3u << 20, 'b'); // three segments of 1 MiB
  const std::string small = "small";
  write_file(dir / "source/big.bin", big);
  write_file(dir / "source/small.txt", small);
  std::ostringstream out, err;
  shared::log::Logger logger(shared::log::Dialect::plain, out, err);
  NotingSource source(dir / "source", logger);
  shared::source::Listing listing;
  const bool with_big = GENERATE(true, false);
  if (with_big) {
    listing.items.push_back(
        {"big.bin", big.size(), shared::hash::sha256(big), dir / "source/big.bin", false, nullptr});
  }
  listing.items.push_back({"small.txt", small.size(), shared::hash::sha256(small),
                           dir / "source/small.txt", false, nullptr});
  shared::transfer::DownloadOptions options;
  options.destination = dir / "out";
  options.patterns = shared::glob::PatternSet({"**"}, {});
  options.parallel = 4;
  options.min_segment_size = 1u << 20;
  options.skip_validation = GENERATE(false, true);
  INFO("large item " << with_big << ", skip validation " << options.skip_validation);

  const auto summary = shared::transfer::download(source, listing, options, logger);
  REQUIRE(summary.failures.empty());
  CHECK(read_file(dir / "out/small.txt") == small);
  const bool yields = with_big && !options.skip_validation;
  const int lowered = std::min(base + shared::parallel::k_yield_steps, 19);
  CHECK(source.seen() == std::set<int>{yields ? lowered : base});
  CHECK(own_nice() == base); // the calling thread does no work while they yield
}
