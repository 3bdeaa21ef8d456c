// Starting threads from a chosen thread, so that they get its scheduling priority.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace shared::parallel {

/// Makes threads on behalf of other threads, from the thread that serve()s it. On Linux a new
/// thread inherits the nice value of the thread that makes it, and a thread that lowered its
/// own priority cannot raise it again (without CAP_SYS_NICE): workers that yield to some
/// threads (lower_priority) ask the serving thread, still at the normal priority, to make
/// those. Thread-safe.
class ThreadStarter {
public:
  ThreadStarter() : m_server(std::this_thread::get_id()) {}

  /// A thread running `body`, made by the serving thread (by the calling thread when that is
  /// the thread that constructed the starter). Blocks until it is made; throws
  /// std::system_error when it cannot be. Call only while serve() runs, or from the
  /// constructing thread.
  std::thread start(std::function<void()> body);

  /// Makes the threads start() asks for until `done()` is true; call on the thread that
  /// constructed the starter. `done` is read under the starter's lock: after changing what it
  /// reads, call wake().
  void serve(const std::function<bool()>& done);

  /// Has serve() look at `done()` again.
  void wake();

private:
  struct Request;
  const std::thread::id m_server;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Request*> m_requests;
};

/// How many nice levels workers go below the threads they yield to: nice(1)'s default.
inline constexpr int k_yield_steps = 10;

/// Lowers the calling thread's priority by `steps` nice levels (setpriority(2) on its thread
/// id); a refusal is ignored: the thread goes on as it was.
void lower_priority(int steps);

} // namespace shared::parallel
