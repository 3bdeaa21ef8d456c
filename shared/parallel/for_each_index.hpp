// Sharing a list of independent jobs among a few threads.
#pragma once

#include <cstddef>
#include <functional>

namespace shared::parallel {

/// Calls `work(k)` once for every k in [0, count): on the calling thread and on up to
/// `helpers` more threads (fewer, silently, when threads cannot be started), each taking the
/// next k; `work` must be safe to call from several threads at once. Returns when all are
/// done. When a call throws, the first exception is rethrown here once the running calls
/// have returned, and no k is started after it has been caught (the other threads may still
/// start some while it unwinds).
void for_each_index(std::size_t count, std::size_t helpers,
                    const std::function<void(std::size_t)>& work);

/// How many helpers for `count` jobs: one for every `per_helper` jobs, at most one a core
/// besides the calling thread, at most `max_helpers`.
std::size_t helpers_for(std::size_t count, std::size_t per_helper, std::size_t max_helpers = 7);

} // namespace shared::parallel
