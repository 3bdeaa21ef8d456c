#include "shared/http/retry.hpp"

#include <catch2/catch.hpp>

#include <ctime>

using namespace shared::http;

TEST_CASE("only transient statuses are retried", "[http]") {
  for (int status : {408, 429, 500, 502, 503, 504}) {
    CHECK(is_retryable_status(status));
  }
  for (int status : {200, 301, 400, 401, 403, 404, 413, 501}) {
    CHECK_FALSE(is_retryable_status(status));
  }
}

TEST_CASE("backoff has full jitter under an exponential, capped ceiling", "[http]") {
  RetryPolicy policy;
  policy.base_delay = 1;
  policy.factor = 2;
  policy.max_delay = 60;
  std::mt19937_64 random(42);
  double max_seen[8] = {};
  for (int i = 0; i < 2000; ++i) {
    for (int retry = 1; retry <= 8; ++retry) {
      const double d = backoff_delay(policy, retry, random);
      const double ceiling = std::min(60.0, std::pow(2.0, retry - 1));
      REQUIRE(d >= 0);
      REQUIRE(d <= ceiling);
      max_seen[retry - 1] = std::max(max_seen[retry - 1], d);
    }
  }
  CHECK(max_seen[0] > 0.9); // the whole range is used
  CHECK(max_seen[3] > 7.0);
  CHECK(max_seen[7] > 55.0); // capped at 60, not 128
  policy.base_delay = 0;
  CHECK(backoff_delay(policy, 3, random) == 0);
}

TEST_CASE("Retry-After in seconds and as an HTTP-date", "[http]") {
  const auto now = std::chrono::system_clock::from_time_t(1784000000); // 2026-07-14T03:33:20Z
  CHECK(parse_retry_after("2", now) == 2.0);
  CHECK(parse_retry_after("0", now) == 0.0);
  CHECK(parse_retry_after("Tue, 14 Jul 2026 03:33:50 GMT", now) == Approx(30.0));
  CHECK(parse_retry_after("Tuesday, 14-Jul-26 03:33:50 GMT", now) == Approx(30.0));
  CHECK(parse_retry_after("Tue Jul 14 03:33:50 2026", now) == Approx(30.0));
  CHECK(parse_retry_after("Tue, 14 Jul 2026 03:00:00 GMT", now) == 0.0); // in the past
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("-5", now));
}

TEST_CASE("Retry-After: the three HTTP-date forms, single-digit days, leap days", "[http]") {
  const auto now = std::chrono::system_clock::from_time_t(1784000000); // 2026-07-14T03:33:20Z
  // In the past (0, not nullopt): each form is read.
  CHECK(parse_retry_after("Sat, 04 Jul 2026 03:33:50 GMT", now) == 0.0);
  CHECK(parse_retry_after("Saturday, 04-Jul-26 03:33:50 GMT", now) == 0.0);
  CHECK(parse_retry_after("Sat Jul  4 03:33:50 2026", now) == 0.0);
  // 2028-02-29T00:00:00Z
  CHECK(parse_retry_after("Tue, 29 Feb 2028 00:00:00 GMT", now) ==
        Approx(1835395200.0 - 1784000000));
  CHECK(parse_retry_after("12345678901", now) == 1e9); // delay-seconds beyond 9 digits
}

TEST_CASE("Retry-After: values that are not an HTTP-date are ignored", "[http]") {
  const auto now = std::chrono::system_clock::from_time_t(1784000000);
  for (const char* value : {
           "Tue, 32 Jul 2026 03:33:50 GMT",      // no such day
           "Sat, 29 Feb 2026 03:33:50 GMT",      // not a leap year
           "Tue, 14 Jul 2026 25:33:50 GMT",      // no such hour
           "Tue, 14 Foo 2026 03:33:50 GMT",      // no such month
           "Tue, 14 Jul 2026 03:33:50 PST",      // not GMT
           "Tue, 14 Jul 2026 03:33:50 +0000",    // not GMT
           "Tue, 14 Jul 2026 03:33:50 GMT junk", // text after the date
           "Tue, 14 Jul 2026",                   // no time
           "14 Jul 2026 03:33:50 GMT",           // no day name
           "1.5",                                // delay-seconds are whole
       }) {
    INFO(value);
    CHECK_FALSE(parse_retry_after(value, now));
  }
}

TEST_CASE("a server's Retry-After wins over backoff but is capped", "[http]") {
  RetryPolicy policy;
  policy.max_retry_after = 120;
  std::mt19937_64 random(1);
  CHECK(retry_wait(policy, 1, 7.0, random) == 7.0);
  CHECK(retry_wait(policy, 1, 3600.0, random) == 120.0);
  CHECK(retry_wait(policy, 1, std::nullopt, random) <= 1.0);
}
