#include "shared/error/error.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/hash/sha256.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace shared::hash;

TEST_CASE("sha256 matches the FIPS 180-4 examples", "[hash]") {
  CHECK(to_hex(sha256(""), false) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha256("abc")) ==
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  CHECK(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), false) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("streaming in pieces gives the digest of the whole, and finish() resets", "[hash]") {
  std::string data;
  for (int i = 0; i < 100000; ++i) {
    data.push_back(static_cast<char>(i * 31 + 7));
  }
  Sha256 hasher;
  for (std::size_t pos = 0; pos < data.size(); pos += 997) {
    const std::string piece = data.substr(pos, 997);
    hasher.update(piece.data(), piece.size());
  }
  CHECK(hasher.finish() == sha256(data));
  hasher.update("abc", 3);
  CHECK(hasher.finish() == sha256("abc"));
}

TEST_CASE("hex parsing takes exactly 64 hex digits of either case", "[hash]") {
  const Digest digest = sha256("x");
  CHECK(from_hex(to_hex(digest)) == digest);
  CHECK(from_hex(to_hex(digest, false)) == digest);
  CHECK_FALSE(from_hex(to_hex(digest).substr(1)));
  CHECK_FALSE(from_hex(to_hex(digest) + "0"));
  std::string bad = to_hex(digest);
  bad[10] = 'g';
  CHECK_FALSE(from_hex(bad));
  CHECK_FALSE(from_hex(""));
}

TEST_CASE("FileHasher hashes files larger than its buffer and reports sizes", "[hash]") {
  tests::support::TempDir folder;
  std::string data(FileHasher::k_buffer_size * 2 + 12345, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i % 251);
  }
  tests::support::write_file(folder / "big", data);
  tests::support::write_file(folder / "empty", "");
  FileHasher hasher;
  const FileHash big = hasher.hash_file(folder / "big");
  CHECK(big.sha256 == sha256(data));
  CHECK(big.size == data.size());
  const FileHash empty = hasher.hash_file(folder / "empty");
  CHECK(empty.sha256 == sha256(""));
  CHECK(empty.size == 0);
}

TEST_CASE("FileHasher names the path it cannot open", "[hash]") {
  FileHasher hasher;
  try {
    hasher.hash_file("/nonexistent/file");
    FAIL("no exception");
  } catch (const shared::error::IoError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/file") != std::string::npos);
    CHECK(e.code() == shared::error::ExitCode::io);
  }
}
