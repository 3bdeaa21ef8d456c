// SIGINT/SIGTERM handling: the signal only sets a flag; long loops poll it, stop, clean up
// their partial outputs, and the task exits with status 130.
#pragma once

namespace shared::task {

/// Installs the SIGINT and SIGTERM handlers (idempotent).
void install_interrupt_handlers();

/// Whether SIGINT or SIGTERM arrived.
bool interrupted() noexcept;

/// Throws error::Interrupted when interrupted().
void throw_if_interrupted();

} // namespace shared::task
