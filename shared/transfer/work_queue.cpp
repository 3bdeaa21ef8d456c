#include "shared/transfer/work_queue.hpp"

namespace shared::transfer {

void WorkQueue::plan_item(const source::Item& item) {
  m_tasks.push_back({&item, nullptr, 0, false});
}

void WorkQueue::plan_segments(const source::Item& item, std::uint64_t size,
                              std::uint64_t segment_size) {
  SegmentedItem& segmented = m_segmented.emplace_back(item, size, segment_size, 0);
  for (std::size_t k = 0; k < segmented.count(); ++k) {
    m_tasks.push_back({&item, &segmented, k, false});
  }
}

std::optional<Task> WorkQueue::next() {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    if (m_stopped) {
      return std::nullopt;
    }
    const bool planned_left = m_next < m_tasks.size();
    if (!m_published.empty()) {
      const Task& task = m_published.front();
      if (!planned_left || !task.segmented->hash_would_wait(task.segment)) {
        const Task taken = task;
        m_published.pop_front();
        return taken;
      }
    }
    if (planned_left) {
      return m_tasks[m_next++];
    }
    if (m_done == m_tasks.size()) {
      return std::nullopt;
    }
    m_changed.wait(lock);
  }
}

void WorkQueue::done(const Task& task) {
  if (task.published) {
    return;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  if (++m_done == m_tasks.size()) {
    m_changed.notify_all();
  }
}

SegmentedItem& WorkQueue::add_segmented(const source::Item& item, std::uint64_t size,
                                        std::uint64_t segment_size, std::uint64_t first) {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_segmented.emplace_back(item, size, segment_size, first);
}

void WorkQueue::publish(SegmentedItem& item, std::size_t first) {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (std::size_t k = first; k < item.count(); ++k) {
    m_published.push_back({&item.item(), &item, k, true});
  }
  m_changed.notify_all();
}

bool WorkQueue::fetches_started() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_next >= m_fetches;
}

void WorkQueue::stop() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_stopped = true;
  m_changed.notify_all();
}

} // namespace shared::transfer
