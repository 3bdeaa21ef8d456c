// Sharing a list of independent jobs among a few threads.
#pragma once

#include <cstddef>
#include <functional>

namespace shared::parallel {

/// Calls `work(k)` once for every k in [0, count): on the calling thread and on up to
/// `helpers` more threads (fewer when threads cannot be started), each taking the next k.
/// Returns when all are done. When a call throws, no further k is started and the first
/// exception is rethrown here once the running calls have returned.
void for_each_index(std::size_t count, std::size_t helpers,
                    const std::function<void(std::size_t)>& work);

/// Helpers for `count` jobs of about `per_helper` jobs' worth each: at most one a core (not
/// counting the calling thread), at most `max_helpers`.
std::size_t helpers_for(std::size_t count, std::size_t per_helper, std::size_t max_helpers = 7);

} // namespace shared::parallel
