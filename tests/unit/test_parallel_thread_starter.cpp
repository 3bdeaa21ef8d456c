// ThreadStarter: threads asked for by a worker that lowered its priority are made by the
// serving thread and get its priority; lower_priority lowers only the calling thread.
#include "shared/parallel/thread_starter.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <sys/resource.h>
#include <unistd.h>

using shared::parallel::lower_priority;
using shared::parallel::ThreadStarter;

namespace {

// The calling thread's nice value; -100 when it cannot be read (no assertion here: other
// threads call it).
int own_nice() {
  errno = 0;
  const int value = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  return errno == 0 ? value : -100;
}

} // namespace

TEST_CASE("threads a yielding worker asks the starter for run at the serving thread's priority",
          "[parallel]") {
  const int base = own_nice();
  REQUIRE(base != -100);
  if (base > 19 - 3) {
    WARN("not run: this test's own priority is too low to go lower");
    return;
  }
  ThreadStarter starter;
  std::atomic<bool> done{false};
  int worker = 0, made = 0, own = 0;
  std::thread yielding([&] {
    lower_priority(3);
    worker = own_nice();
    std::thread asked = starter.start([&] { made = own_nice(); });
    asked.join();
    std::thread direct([&] { own = own_nice(); }); // what the starter is for
    direct.join();
    done = true;
    starter.wake();
  });
  starter.serve([&] { return done.load(); });
  yielding.join();
  CHECK(worker == base + 3);
  CHECK(own == base + 3);
  CHECK(made == base);
  CHECK(own_nice() == base); // the serving thread was not lowered
}

TEST_CASE("the starter's own thread starts threads itself, without serve()", "[parallel]") {
  ThreadStarter starter;
  std::atomic<int> ran{0};
  std::thread thread = starter.start([&] { ++ran; });
  thread.join();
  CHECK(ran == 1);
}
