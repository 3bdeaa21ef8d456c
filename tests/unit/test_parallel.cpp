#include "shared/parallel/for_each_index.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using shared::parallel::for_each_index;
using shared::parallel::helpers_for;

TEST_CASE("for_each_index calls every index once, on several threads", "[parallel]") {
  std::vector<std::atomic<int>> calls(1000);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  for_each_index(calls.size(), 3, [&](std::size_t k) {
    ++calls[k];
    std::lock_guard<std::mutex> lock(mutex);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& count : calls) {
    CHECK(count == 1);
  }
  CHECK(threads.size() <= 4);
  for_each_index(0, 3, [](std::size_t) { FAIL("no index to call"); });
}

TEST_CASE("for_each_index rethrows the first failure and starts nothing after it", "[parallel]") {
  // Runs 100,000 calls on `helpers` helpers, index 10 throwing, each other call taking
  // `pause`; returns how many were started.
  const auto started_before_stop = [](std::size_t helpers, std::chrono::microseconds pause) {
    std::atomic<std::size_t> started{0};
    CHECK_THROWS_WITH(for_each_index(100000, helpers,
                                     [&](std::size_t k) {
                                       ++started;
                                       if (k == 10) {
                                         throw std::runtime_error("index 10 failed");
                                       }
                                       std::this_thread::sleep_for(pause);
                                     }),
                      "index 10 failed");
    return started.load();
  };
  // On the calling thread alone the order is fixed: 0 to 10 ran, nothing after.
  CHECK(started_before_stop(0, std::chrono::microseconds(0)) == 11);
  // With helpers, they go on taking indices until the exception reaches for_each_index (the
  // thread that threw may be preempted on the way): each call takes 100 us here, so the rest
  // would take seconds, far longer than any unwinding. (Trivial calls made this flaky: two
  // helpers could finish all 100,000 while the thrower waited for a core.)
  CHECK(started_before_stop(2, std::chrono::microseconds(100)) < 100000);
}

TEST_CASE("helpers_for: none for little work, at most one a core beside the caller", "[parallel]") {
  CHECK(helpers_for(10, 64) == 0);
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(helpers_for(1000000, 64) == std::min<std::size_t>(cores - 1, 7));
  CHECK(helpers_for(1000000, 64, 2) <= 2);
}
