#include "shared/http/retry.hpp"

#include "shared/error/error.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <thread>

namespace shared::http {

namespace {

// The time an HTTP-date (RFC 9110 §5.6.7) names: IMF-fixdate, or the obsolete RFC 850 and
// asctime forms, all in GMT; nullopt for anything else, a day the month does not have
// included. strptime (in the C locale, which no task changes), not Poco::DateTimeParser:
// Poco's (1.11) takes any text for a date ("soon" is the year 0) and ignores what follows it.
std::optional<std::time_t> parse_http_date(const std::string& value) {
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    std::tm parsed{};
    const char* end = ::strptime(value.c_str(), format, &parsed);
    if (end == nullptr || *end != '\0') {
      continue;
    }
    std::tm normalised = parsed;
    const std::time_t when = ::timegm(&normalised); // normalises 31 Feb to 3 Mar
    if (normalised.tm_mday == parsed.tm_mday && normalised.tm_mon == parsed.tm_mon) {
      return when;
    }
  }
  return std::nullopt;
}

} // namespace

bool is_retryable_status(int status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

double backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& random) {
  const double ceiling = std::min(
      policy.max_delay, policy.base_delay * std::pow(policy.factor, std::max(0, retry - 1)));
  if (!(ceiling > 0)) {
    return 0;
  }
  return std::uniform_real_distribution<double>(0.0, ceiling)(random);
}

std::optional<double> parse_retry_after(const std::string& value,
                                        std::chrono::system_clock::time_point now) {
  if (value.empty()) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return value.size() > 9 ? 1e9 : std::stod(value); // delay-seconds; 10 digits is over 30 years
  }
  const std::optional<std::time_t> when = parse_http_date(value);
  if (!when) {
    return std::nullopt;
  }
  const auto wait = std::chrono::system_clock::from_time_t(*when) - now;
  return std::max(0.0, std::chrono::duration<double>(wait).count());
}

double retry_wait(const RetryPolicy& policy, int retry, const std::optional<double>& retry_after,
                  std::mt19937_64& random) {
  if (retry_after) {
    return std::min(*retry_after, policy.max_retry_after);
  }
  return backoff_delay(policy, retry, random);
}

void sleep_unless_cancelled(double seconds, const std::function<bool()>& cancelled) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
  for (Clock::time_point now = Clock::now(); now < until; now = Clock::now()) {
    if (cancelled && cancelled()) {
      throw error::Interrupted();
    }
    const Clock::duration slice = std::chrono::milliseconds(50);
    std::this_thread::sleep_for(std::min(slice, until - now));
  }
}

} // namespace shared::http
