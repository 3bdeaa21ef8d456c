#include "shared/format/units.hpp"

#include <catch2/catch.hpp>

using namespace shared::format;

TEST_CASE("sizes, rates, durations and counts read well", "[format]") {
  CHECK(bytes(0) == "0 B");
  CHECK(bytes(999) == "999 B");
  CHECK(bytes(1500) == "1.5 kB");
  CHECK(bytes(120600000) == "120.6 MB");
  CHECK(bytes(999990000) == "1.0 GB");
  CHECK(rate(100000000, 2.0) == "50.0 MB/s");
  CHECK(rate(100, 0.0) == "-");
  CHECK(duration(0.421) == "0.42 s");
  CHECK(duration(12.34) == "12.3 s");
  CHECK(duration(245) == "4m05s");
  CHECK(duration(7380) == "2h03m");
  CHECK(count(0) == "0");
  CHECK(count(999) == "999");
  CHECK(count(1234567) == "1,234,567");
}

TEST_CASE("sizes are read with SI and binary suffixes", "[format]") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("512k") == 512000u);
  CHECK(parse_size("1.5MB") == 1500000u);
  CHECK(parse_size("10GiB") == 10ull << 30);
  CHECK(parse_size("2 tb") == 2000000000000ull);
  CHECK(parse_size("1Ki") == 1024u);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("lots"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("5 XB"));
  CHECK_FALSE(parse_size("1.2.3"));
  CHECK_FALSE(parse_size("5 MiBs"));
  CHECK_FALSE(parse_size("99999999 PB"));
}
