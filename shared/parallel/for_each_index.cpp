#include "shared/parallel/for_each_index.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace shared::parallel {

void for_each_index(std::size_t count, std::size_t helpers,
                    const std::function<void(std::size_t)>& work) {
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr failure;
  const auto take = [&] {
    for (std::size_t k = next++; k < count; k = next++) {
      try {
        work(k);
      } catch (...) {
        next = count; // nothing new starts
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) {
          failure = std::current_exception();
        }
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(std::min(helpers, count)); // no reallocation while threads run
  try {
    for (std::size_t t = 0; t < std::min(helpers, count); ++t) {
      threads.emplace_back(take);
    }
  } catch (const std::system_error&) { // fewer helpers: this thread does the rest
  }
  take();
  for (auto& thread : threads) {
    thread.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

std::size_t helpers_for(std::size_t count, std::size_t per_helper, std::size_t max_helpers) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min({cores - 1, count / std::max<std::size_t>(1, per_helper), max_helpers});
}

} // namespace shared::parallel
