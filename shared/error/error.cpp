#include "shared/error/error.hpp"

#include <cstring>

namespace shared::error {

const std::vector<ExitCodeInfo>& exit_code_table() {
  static const std::vector<ExitCodeInfo> table = {
      {ExitCode::success, "success"},
      {ExitCode::items_failed, "some items failed; the others were done"},
      {ExitCode::usage, "bad input or usage; nothing was done"},
      {ExitCode::network, "network or server error that retries did not cure"},
      {ExitCode::integrity, "integrity: a hash or size did not match"},
      {ExitCode::io, "local file error: a file could not be read or written"},
      {ExitCode::internal, "internal error (a bug: please report it)"},
      {ExitCode::interrupted, "interrupted (SIGINT/SIGTERM); partial outputs removed"},
  };
  return table;
}

ExitCode exit_code_for(const std::exception& e) noexcept {
  if (const auto* error = dynamic_cast<const Error*>(&e)) {
    return error->code();
  }
  return ExitCode::internal;
}

std::string system_message(const std::string& what, int errnum) {
  return what + ": " + std::strerror(errnum);
}

} // namespace shared::error
