// Loopback ports for the servers tests start.
#pragma once

namespace tests::support {

/// A loopback port nobody listened on a moment ago (bind to port 0, read it back, close).
/// Throws std::runtime_error when no socket can be bound.
int free_port();

/// Whether something accepts TCP connections at 127.0.0.1:port.
bool accepts_connections(int port);

} // namespace tests::support
