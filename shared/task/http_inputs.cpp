#include "shared/task/http_inputs.hpp"

#include "shared/error/error.hpp"
#include "shared/task/interrupt.hpp"

namespace shared::task {

http::ClientOptions http_options_from_inputs(const Inputs& inputs, log::Logger& logger) {
  http::ClientOptions http;
  http.retry.retries = static_cast<int>(inputs.integer("retries"));
  http.retry.base_delay = inputs.number("retryDelay");
  http.retry.factor = inputs.number("retryFactor");
  http.retry.max_delay = inputs.number("retryMaxDelay");
  http.retry.max_retry_after = inputs.number("maxRetryWait");
  http.connect_timeout = inputs.number("connectTimeout");
  http.read_timeout = inputs.number("readTimeout");
  http.user_agent = "artifact-tasks/" + inputs.manifest().version;
  http.bearer_token = inputs.text("token");
  http.username = inputs.text("username");
  http.password = inputs.text("password");
  if (!http.bearer_token.empty() && !http.username.empty()) {
    throw error::UsageError("--token and --username: give one kind of authentication, not both");
  }
  http.proxies = http::ProxySettings::from_environment(log::process_environment());
  http.cancelled = interrupted;
  const bool insecure = inputs.boolean("insecure");
  if (insecure) {
    logger.warning(
        "--insecure: TLS certificates are not verified; anyone on the path can change the bytes");
  }
  if (insecure || inputs.has("caFile")) {
    http.tls = http::make_tls_context(inputs.text("caFile"), insecure);
  }
  return http;
}

} // namespace shared::task
