// shared/transfer/following_hasher: the SHA-256 of a file written in parts by several threads,
// computed in order on the hasher's thread, with writers held back by its window.
#include "shared/error/error.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/transfer/following_hasher.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using shared::transfer::FollowingHasher;
using shared::transfer::Part;
using tests::support::random_bytes;
using tests::support::TempDir;

namespace {

constexpr std::uint64_t k_mib = 1u << 20;

std::vector<Part> parts_of(std::uint64_t size, std::uint64_t length) {
  std::vector<Part> parts;
  for (std::uint64_t at = 0; at < size; at += length) {
    parts.push_back({at, std::min(length, size - at)});
  }
  return parts;
}

// A file of `size` bytes after a head of `base` bytes, opened for writing and for reading.
struct PartFile {
  TempDir folder;
  int fd = -1;
  int reader = -1;
  explicit PartFile(std::uint64_t bytes) {
    const std::string path = folder / "body.part";
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(reader >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes)) == 0);
  }
  ~PartFile() {
    ::close(fd);
    ::close(reader);
  }
  // Writes part `k` of `parts` from `body` in pieces of `piece` bytes, telling the hasher.
  void write_part(FollowingHasher& hasher, const std::vector<Part>& parts, std::size_t k,
                  const std::string& body, std::uint64_t base, std::size_t piece) {
    for (std::uint64_t done = 0; done < parts[k].length;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(piece, parts[k].length - done));
      const std::uint64_t at = parts[k].offset + done;
      REQUIRE(::pwrite(fd, body.data() + at, n, static_cast<off_t>(base + at)) ==
              static_cast<ssize_t>(n));
      done += n;
      hasher.wrote(k, done);
    }
  }
};

} // namespace

TEST_CASE("following hasher: parts written at once by several threads give the body's SHA-256",
          "[transfer]") {
  const std::uint64_t base = GENERATE(0u, 1234u); // an envelope before the body, unaligned
  const std::uint64_t size = 40 * k_mib + 4321;
  const std::string body = random_bytes(size, 7);
  const std::vector<Part> parts = parts_of(size, 3 * k_mib);
  PartFile file(base + size);
  const std::function<bool()> never;
  FollowingHasher hasher(file.reader, base, size, parts, never);
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (std::size_t k = next++; k < parts.size(); k = next++) {
        file.write_part(hasher, parts, k, body, base, 64 * 1024 + 17);
      }
    });
  }
  for (auto& writer : writers) {
    writer.join();
  }
  CHECK(hasher.finish_or_read_again("body.part") == shared::hash::sha256(body));
  CHECK_FALSE(hasher.read_again()); // followed to the end
}

TEST_CASE("following hasher: a writer more than the window ahead waits for the hash",
          "[transfer]") {
  const std::uint64_t size = 80 * k_mib;
  const std::string body = random_bytes(size, 8);
  const std::vector<Part> parts = parts_of(size, 8 * k_mib);
  PartFile file(size);
  const std::function<bool()> never;
  FollowingHasher hasher(file.reader, 0, size, parts, never);
  REQUIRE(hasher.window() == 32 * k_mib);
  CHECK(hasher.ahead(32 * k_mib + 1));
  CHECK_FALSE(hasher.ahead(32 * k_mib));
  // Part 5 starts 40 MiB in: beyond the window while nothing before it is written.
  std::atomic<bool> returned{false};
  std::thread ahead([&] {
    file.write_part(hasher, parts, 5, body, 0, 1 * k_mib);
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(returned);
  for (std::size_t k = 0; k < 5; ++k) {
    file.write_part(hasher, parts, k, body, 0, 1 * k_mib);
  }
  ahead.join();
  CHECK(returned);
  for (std::size_t k = 6; k < parts.size(); ++k) {
    file.write_part(hasher, parts, k, body, 0, 1 * k_mib);
  }
  const auto digest = hasher.finish();
  REQUIRE(digest.has_value());
  CHECK(*digest == shared::hash::sha256(body));
}

TEST_CASE("following hasher: abandon() releases a waiting writer, and finish() gives no digest",
          "[transfer]") {
  const std::uint64_t size = 80 * k_mib;
  const std::string body = random_bytes(size, 9);
  const std::vector<Part> parts = parts_of(size, 8 * k_mib);
  PartFile file(size);
  const std::function<bool()> never;
  FollowingHasher hasher(file.reader, 0, size, parts, never);
  std::thread ahead([&] { file.write_part(hasher, parts, 9, body, 0, 1 * k_mib); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  hasher.abandon(); // as when part 0 fails for good
  ahead.join();
  CHECK_FALSE(hasher.finish().has_value());
}

TEST_CASE("following hasher: a waiting writer throws Interrupted when cancelled", "[transfer]") {
  const std::uint64_t size = 80 * k_mib;
  const std::string body = random_bytes(size, 10);
  const std::vector<Part> parts = parts_of(size, 8 * k_mib);
  PartFile file(size);
  std::atomic<bool> stop{false};
  const std::function<bool()> cancelled = [&stop] { return stop.load(); };
  FollowingHasher hasher(file.reader, 0, size, parts, cancelled);
  std::atomic<bool> interrupted{false};
  std::thread ahead([&] {
    try {
      file.write_part(hasher, parts, 9, body, 0, 1 * k_mib);
    } catch (const shared::error::Interrupted&) {
      interrupted = true;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  ahead.join();
  CHECK(interrupted);
}

TEST_CASE("following hasher: a part written again after it was hashed spoils the digest, "
          "and the body is then read again",
          "[transfer]") {
  const std::uint64_t base = GENERATE(0u, 1234u);
  const std::uint64_t size = 16 * k_mib;
  const std::string body = random_bytes(size, 11);
  const std::vector<Part> parts = parts_of(size, 4 * k_mib);
  PartFile file(base + size);
  const std::function<bool()> never;
  FollowingHasher hasher(file.reader, base, size, parts, never);
  file.write_part(hasher, parts, 0, body, base, 1 * k_mib);
  // Wait until part 0 is hashed or being hashed: then a writer at its end is not ahead.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (hasher.ahead(FollowingHasher::window() + parts[0].length) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE_FALSE(hasher.ahead(FollowingHasher::window() + parts[0].length));
  hasher.restarted(0); // a retry writes it again
  for (std::size_t k = 0; k < parts.size(); ++k) {
    file.write_part(hasher, parts, k, body, base, 1 * k_mib);
  }
  CHECK_FALSE(hasher.finish().has_value());
  CHECK_FALSE(hasher.read_again());
  CHECK(hasher.finish_or_read_again("body.part") == shared::hash::sha256(body));
  CHECK(hasher.read_again());
}

TEST_CASE("following hasher: a prefix hashed elsewhere is taken as is", "[transfer]") {
  const std::uint64_t size = 9 * k_mib + 5;
  const std::string body = random_bytes(size, 12);
  const std::vector<Part> parts = parts_of(size, 1 * k_mib);
  PartFile file(size);
  const std::function<bool()> never;
  FollowingHasher hasher(file.reader, 0, size, parts, never);
  shared::hash::Sha256 prefix;
  prefix.update(body.data(), 2 * k_mib); // the first two parts, as a probe hashed them
  hasher.assume_hashed(prefix, 2 * k_mib);
  for (std::size_t k = 2; k < parts.size(); ++k) {
    file.write_part(hasher, parts, k, body, 0, 300 * 1000);
  }
  const auto digest = hasher.finish();
  REQUIRE(digest.has_value());
  CHECK(*digest == shared::hash::sha256(body));
}
