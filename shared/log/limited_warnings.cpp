#include "shared/log/limited_warnings.hpp"

namespace shared::log {

void LimitedWarnings::warn(const std::string& message) {
  if (++m_count <= m_limit) {
    m_logger.warning(message);
  }
}

void LimitedWarnings::finish(const std::string& what) {
  if (m_count > m_limit) {
    m_logger.warning(std::to_string(m_count - m_limit) + " more " + what + " (not shown)");
  }
}

} // namespace shared::log
