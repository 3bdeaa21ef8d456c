// The HTTP client's splice(2) path: a plain-HTTP body of known length goes from the socket
// into the sink's file without a copy through the process (BodySink::splice_target), against
// our FaultServer (short bodies, resets, stalls, gzip).
#include "shared/error/error.hpp"
#include "shared/http/client.hpp"
#include "shared/http/errors.hpp"
#include "shared/transfer/part_writer.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fcntl.h>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <thread>

using namespace tests::support;
using shared::http::Client;
using shared::http::ClientOptions;

namespace {

struct Fixture {
  TempDir dir;
  std::ostringstream out, err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  ClientOptions options;
  std::function<bool()> never_cancelled;
  std::mutex turn; // the file's write turn, as the parts of one file share it

  Fixture() {
    options.retry.retries = 2;
    options.retry.base_delay = 0.01;
  }

  // GETs `url` into [offset, offset + length) of a fresh file (PartWriter, as segments and
  // parts are written); returns the file's bytes.
  std::string fetch(Client& client, const std::string& url, std::uint64_t offset,
                    std::uint64_t length, int flags = 0) {
    const std::string path = dir / "part";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | flags, 0644);
    REQUIRE(fd >= 0);
    shared::transfer::PartWriter sink(fd, 0, 0, offset, length, nullptr, &turn, nullptr,
                                      never_cancelled);
    try {
      client.get(url, sink);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    CHECK(sink.written() == length);
    return read_file(path);
  }

  // A fresh, empty file "part" open for writing.
  int open_part() {
    const int fd = ::open((dir / "part").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    return fd;
  }

  // GETs `url` into `sink` (writing the file `fd`) on another thread while this one holds
  // `turn`, as another writer of the file would, for 300 ms: the body has long arrived by
  // then. Returns the file's size in bytes at that point; then lets go and waits for the GET.
  std::uint64_t get_while_turn_held(Client& client, const std::string& url,
                                    shared::http::BodySink& sink, int fd) {
    std::unique_lock<std::mutex> other(turn);
    std::exception_ptr failure;
    std::thread fetching([&] {
      try {
        client.get(url, sink);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    struct stat info {};
    const int got = ::fstat(fd, &info);
    other.unlock();
    fetching.join();
    REQUIRE(got == 0);
    REQUIRE_FALSE(failure);
    return static_cast<std::uint64_t>(info.st_size);
  }
};

} // namespace

TEST_CASE("splice: a plain body of known length lands in the file, at its offset", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes((3u << 20) + 4321, 5);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  const std::string got = f.fetch(client, server.url("/blob"), 1000, body.size());
  CHECK(got.size() == 1000 + body.size());
  CHECK(got.substr(1000) == body);
  // Poco may have read the first bytes with the headers; the rest came by splice.
  CHECK(client.spliced_bytes() > body.size() - (64u << 10));
  CHECK(client.spliced_bytes() <= body.size());

  // The connection is at a message boundary afterwards: the next request reuses it.
  const std::string second = f.fetch(client, server.url("/blob"), 0, body.size());
  CHECK(second == body);
  CHECK(client.connections() == 1);
}

TEST_CASE("splice: no byte reaches the file while another writer of it has the turn", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes((2u << 20) + 17, 8);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  const int fd = f.open_part();
  shared::transfer::PartWriter sink(fd, 0, 0, 0, body.size(), nullptr, &f.turn, nullptr,
                                    f.never_cancelled);
  // Neither written (the bytes read with the headers) nor spliced while the turn is taken.
  CHECK(f.get_while_turn_held(client, server.url("/blob"), sink, fd) == 0);
  ::close(fd);
  CHECK(sink.written() == body.size());
  CHECK(read_file(f.dir / "part") == body);
  CHECK(client.spliced_bytes() > 0);
}

TEST_CASE("splice: the client holds the target's turn around each splice into the file", "[http]") {
  // A sink that writes without the turn: only the client's own holding of it can stop bytes.
  struct Sink : shared::http::BodySink {
    int fd;
    std::mutex* turn;
    std::uint64_t at = 0;
    void write(const char* data, std::size_t size) override {
      REQUIRE(::pwrite(fd, data, size, static_cast<off_t>(at)) == static_cast<ssize_t>(size));
      at += size;
    }
    void restart() override { at = 0; }
    std::optional<shared::http::SpliceTarget> splice_target() const override {
      return shared::http::SpliceTarget{fd, at, 4u << 20, turn};
    }
    void spliced(std::size_t size) override { at += size; }
  };
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes((2u << 20) + 17, 9);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  Sink sink;
  sink.fd = f.open_part();
  sink.turn = &f.turn;
  // At most what Poco read with the headers, through write().
  CHECK(f.get_while_turn_held(client, server.url("/blob"), sink, sink.fd) < (64u << 10));
  ::close(sink.fd);
  CHECK(read_file(f.dir / "part") == body);
  CHECK(client.spliced_bytes() > body.size() - (64u << 10));
}

TEST_CASE("splice: small, gzip and chunked bodies go through write()", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(1u << 20, 6);
  FaultReply reply;
  reply.body = body;
  SECTION("small") {
    reply.body = body.substr(0, 60u << 10); // more than Poco reads with the headers
  }
  SECTION("gzip") {
    reply.fault = FaultReply::Fault::gzip;
  }
  SECTION("chunked") {
    reply.fault = FaultReply::Fault::chunked;
  }
  server.on("/blob", {reply});
  Client client(f.options, f.logger);
  CHECK(f.fetch(client, server.url("/blob"), 0, reply.body.size()) == reply.body);
  CHECK(client.spliced_bytes() == 0);
}

TEST_CASE("splice: a body cut short or reset is retried from its first byte", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 7);
  FaultReply broken;
  broken.body = body;
  broken.fault = GENERATE(FaultReply::Fault::short_body, FaultReply::Fault::reset_mid_body);
  FaultReply good;
  good.body = body;
  server.on("/blob", {broken, good});
  Client client(f.options, f.logger);
  CHECK(f.fetch(client, server.url("/blob"), 0, body.size()) == body);
  CHECK(client.retries() == 1);
  CHECK(client.spliced_bytes() > body.size()); // the broken half, then the good body

  // Without retries left, the error names what was received.
  server.on("/blob", {broken});
  f.options.retry.retries = 0;
  Client once(f.options, f.logger);
  try {
    f.fetch(once, server.url("/blob"), 0, body.size());
    FAIL("a short body was taken");
  } catch (const shared::http::NetworkError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("of 2097152 bytes") != std::string::npos);
  }
}

TEST_CASE("splice: a body that stalls ends with the read timeout", "[http]") {
  Fixture f;
  FaultServer server;
  FaultReply reply;
  reply.body = random_bytes(1u << 20, 8);
  reply.fault = FaultReply::Fault::drip; // a byte every 5 s: past the timeout below
  reply.drip_interval_ms = 5000;
  server.on("/blob", {reply});
  f.options.retry.retries = 0;
  f.options.read_timeout = 1; // long enough for the headers on a loaded machine
  Client client(f.options, f.logger);
  const auto start = std::chrono::steady_clock::now();
  try {
    f.fetch(client, server.url("/blob"), 0, reply.body.size());
    FAIL("a stalled body was taken");
  } catch (const shared::http::NetworkError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("timed out after") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("splice: a file that refuses splice gets the body through write()", "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 9);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  // O_APPEND: splice(2) into it fails with EINVAL (and pwrite appends, which from offset 0 of
  // an empty file is where the bytes go anyway).
  CHECK(f.fetch(client, server.url("/blob"), 0, body.size(), O_APPEND) == body);
  CHECK(client.spliced_bytes() == 0);
  CHECK(client.retries() == 0);
  // The client does not try again, even into a file that would take it.
  CHECK(f.fetch(client, server.url("/blob"), 0, body.size()) == body);
  CHECK(client.spliced_bytes() == 0);
  Client fresh(f.options, f.logger);
  CHECK(f.fetch(fresh, server.url("/blob"), 0, body.size()) == body);
  CHECK(fresh.spliced_bytes() > 0);
}

namespace {

// A sink that keeps what comes through write() and offers `target` for splicing; spliced()
// counts, and may throw error::Interrupted after `stop_after` spliced bytes.
class TargetSink : public shared::http::BodySink {
public:
  TargetSink(int target, std::uint64_t room) : m_target(target), m_room(room) {}
  void write(const char* data, std::size_t size) override { written.append(data, size); }
  void restart() override {
    written.clear();
    spliced_total = 0;
  }
  std::optional<shared::http::SpliceTarget> splice_target() const override {
    return shared::http::SpliceTarget{m_target, 0, m_room};
  }
  void spliced(std::size_t size) override {
    spliced_total += size;
    if (stop_after != 0 && spliced_total >= stop_after) {
      throw shared::error::Interrupted();
    }
  }
  std::string written;
  std::uint64_t spliced_total = 0;
  std::uint64_t stop_after = 0;

private:
  int m_target;
  std::uint64_t m_room;
};

} // namespace

TEST_CASE("splice: a target that fails the write ends the request with an I/O error; the "
          "client's next request gets a fresh pipe",
          "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 11);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  // A pipe's read end as the "file": splice(2) into it fails with EBADF, not EINVAL.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  TargetSink bad(fds[0], body.size());
  try {
    client.get(server.url("/blob"), bad);
    FAIL("no error");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("cannot write the body to its file") != std::string::npos);
  }
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK(client.retries() == 0); // a local failure: not the network's, not retried
  // The same client splices the next body into a good file.
  CHECK(f.fetch(client, server.url("/blob"), 0, body.size()) == body);
  CHECK(client.spliced_bytes() > 0);
}

TEST_CASE("splice: a cancel seen in spliced() stops the request with Interrupted, unretried",
          "[http]") {
  Fixture f;
  FaultServer server;
  const std::string body = random_bytes(2u << 20, 12);
  server.serve("/blob", body);
  Client client(f.options, f.logger);
  const std::string path = f.dir / "part";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  TargetSink sink(fd, body.size());
  sink.stop_after = 1;
  CHECK_THROWS_AS(client.get(server.url("/blob"), sink), shared::error::Interrupted);
  ::close(fd);
  CHECK(sink.spliced_total > 0);
  CHECK(sink.spliced_total < body.size());
  CHECK(client.retries() == 0);
  CHECK(server.request_count("/blob") == 1);
}
