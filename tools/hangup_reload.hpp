// SIGHUP reloads the TLS certificate and key (Server::reload_tls()), the way daemons reread their files, without
// dropping a connection. Layer: tools.
// The signal is taken by a thread of its own with sigwait(), never by a handler (a reload allocates and reads
// files), so every thread of the process must have SIGHUP blocked: call block_hangup() in the serving process
// before it starts any thread. A --workers parent does not block it: it forwards SIGHUP to its workers.
#pragma once

#include <atomic>
#include <thread>

#include "surge/ws/server.hpp"

namespace surge::tools {

// Blocks SIGHUP in the calling thread, and so in every thread it starts from now on.
void block_hangup() noexcept;

class ReloadTlsOnHangup {
public:
    // Each SIGHUP reloads `server`'s certificate (a server without one logs that there is nothing to reload).
    explicit ReloadTlsOnHangup(Server& server);
    ~ReloadTlsOnHangup();
    ReloadTlsOnHangup(const ReloadTlsOnHangup&) = delete;
    ReloadTlsOnHangup& operator=(const ReloadTlsOnHangup&) = delete;

private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace surge::tools
