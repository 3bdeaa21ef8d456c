// The inputs of task-manifests/http.yml, read into the HTTP layer's options.
#pragma once

#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"
#include "shared/task/inputs.hpp"

namespace shared::task {

/// ClientOptions (with its RetryPolicy) from the http.yml inputs, the proxy variables of the
/// environment, a User-Agent naming the task's version, and SIGINT/SIGTERM as cancellation.
/// Warns on `insecure`. Throws error::UsageError for a token given with a user name, and
/// error::UsageError/IoError for a CA file that cannot be read.
http::ClientOptions http_options_from_inputs(const Inputs& inputs, log::Logger& logger);

} // namespace shared::task
