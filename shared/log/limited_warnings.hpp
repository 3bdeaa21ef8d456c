// Warnings that may come by the thousand (every symlink of a big tree): the first few are
// logged one by one, the rest counted and summed up in one line.
#pragma once

#include "shared/log/logger.hpp"

#include <cstddef>
#include <string>

namespace shared::log {

/// Logs the first `limit` warnings of one kind, counts the others. Not thread-safe.
class LimitedWarnings {
public:
  LimitedWarnings(Logger& logger, std::size_t limit) : m_logger(logger), m_limit(limit) {}

  /// Logs `message` as a warning while under the limit; counts it either way.
  void warn(const std::string& message);

  /// Logs "<n> more <what> (not shown)" when warnings were held back.
  void finish(const std::string& what);

  /// How many warnings were given, shown or not.
  std::size_t count() const { return m_count; }

private:
  Logger& m_logger;
  std::size_t m_limit;
  std::size_t m_count = 0;
};

} // namespace shared::log
