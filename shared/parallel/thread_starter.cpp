#include "shared/parallel/thread_starter.hpp"

#include <cerrno>
#include <exception>
#include <future>
#include <sys/resource.h>
#include <unistd.h>

namespace shared::parallel {

struct ThreadStarter::Request {
  std::function<void()> body;
  std::promise<std::thread> made;
};

std::thread ThreadStarter::start(std::function<void()> body) {
  if (std::this_thread::get_id() == m_server) {
    return std::thread(std::move(body));
  }
  Request request{std::move(body), {}};
  std::future<std::thread> made = request.made.get_future();
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_requests.push_back(&request);
  }
  m_changed.notify_all();
  return made.get(); // rethrows the serving thread's std::system_error
}

void ThreadStarter::serve(const std::function<bool()>& done) {
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    m_changed.wait(lock, [&] { return !m_requests.empty() || done(); });
    if (m_requests.empty()) {
      return;
    }
    Request* request = m_requests.front();
    m_requests.pop_front();
    lock.unlock();
    try {
      request->made.set_value(std::thread(std::move(request->body)));
    } catch (...) {
      request->made.set_exception(std::current_exception());
    }
    lock.lock();
  }
}

void ThreadStarter::wake() {
  { const std::lock_guard<std::mutex> lock(m_mutex); }
  m_changed.notify_all();
}

void lower_priority(int steps) {
  const auto self = static_cast<id_t>(::gettid());
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, self);
  if (now == -1 && errno != 0) {
    return;
  }
  ::setpriority(PRIO_PROCESS, self, now + steps);
}

} // namespace shared::parallel
