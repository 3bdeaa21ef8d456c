#include "shared/progress/progress.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace shared::progress;

TEST_CASE("progress lines give counts, sizes, rate and ETA", "[progress]") {
  Snapshot s;
  s.items_done = 1234;
  s.items_total = 5000;
  s.bytes_done = 500000000;
  s.bytes_total = 1000000000;
  s.seconds = 2.0;
  CHECK(describe("Hashing", "files", s) ==
        "Hashing: 1,234/5,000 files, 500.0 MB/1.0 GB, 250.0 MB/s, ETA 2.00 s");
  CHECK(percent(s) == 50);
  s.bytes_total = 0;
  CHECK(percent(s) == 24);
  CHECK(describe("Hashing", "files", s).find("ETA") != std::string::npos);
  s.items_total = 0;
  CHECK(percent(s) == 0);
  CHECK(describe("Hashing", "files", s) == "Hashing: 1,234 files, 500.0 MB, 250.0 MB/s");
}

TEST_CASE("quiet turns progress off, CI dialects log it", "[progress]") {
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger azure(shared::log::Dialect::azure, out, err);
  CHECK(choose_mode(azure, true) == Mode::off);
  CHECK(choose_mode(azure, false) == Mode::log);
}

TEST_CASE("the reporter counts from many threads and stops cleanly", "[progress]") {
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger(shared::log::Dialect::plain, out, err);
  Reporter reporter(logger, Mode::log, "Hashing", "files", 10, 1000);
  for (int i = 0; i < 10; ++i) {
    reporter.add_item();
    reporter.add_bytes(100);
  }
  CHECK(reporter.snapshot().items_done == 10);
  CHECK(reporter.snapshot().bytes_done == 1000);
  reporter.stop();
  reporter.stop();
}
