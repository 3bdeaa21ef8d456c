#include "shared/task/interrupt.hpp"

#include "shared/error/error.hpp"

#include <csignal>

namespace shared::task {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_signal(int) {
  g_interrupted = 1;
}

} // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupted != 0;
}

void throw_if_interrupted() {
  if (interrupted()) {
    throw error::Interrupted();
  }
}

} // namespace shared::task
