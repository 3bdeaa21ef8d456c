// When to retry an HTTP request and how long to wait: exponential backoff with full jitter
// (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015) and Retry-After
// (RFC 9110 §10.2.3).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>

namespace shared::http {

/// Retry settings, from the task's inputs.
struct RetryPolicy {
  int retries = 5;                ///< retries after the first attempt
  double base_delay = 1.0;        ///< seconds
  double factor = 2.0;            ///< growth per retry
  double max_delay = 60.0;        ///< seconds: cap of one backoff wait
  double max_retry_after = 120.0; ///< seconds: cap of a server's Retry-After
};

/// Whether a response status is worth retrying: 408, 429, 500, 502, 503, 504.
bool is_retryable_status(int status);

/// Seconds to wait before retry number `retry` (1-based): uniform in
/// [0, min(max_delay, base_delay × factor^(retry-1))].
double backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& random);

/// Seconds from `now` that a Retry-After value asks for: delay-seconds or an HTTP-date
/// (IMF-fixdate, RFC 850 or asctime form, in GMT); a date in the past gives 0. nullopt when the
/// value is neither (a day the month does not have included).
std::optional<double> parse_retry_after(const std::string& value,
                                        std::chrono::system_clock::time_point now);

/// The wait before the next retry: Retry-After when the server gave one (capped at
/// max_retry_after), else the backoff.
double retry_wait(const RetryPolicy& policy, int retry, const std::optional<double>& retry_after,
                  std::mt19937_64& random);

/// Sleeps `seconds`, polling `cancelled` (when set) every 50 ms; throws error::Interrupted
/// as soon as it returns true.
void sleep_unless_cancelled(double seconds, const std::function<bool()>& cancelled);

} // namespace shared::http
