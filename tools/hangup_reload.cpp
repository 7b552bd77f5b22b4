#include "tools/hangup_reload.hpp"

#include <pthread.h>
#include <signal.h>

namespace surge::tools {

namespace {

sigset_t hangup_set() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    return set;
}

}  // namespace

void block_hangup() noexcept {
    const sigset_t set = hangup_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ReloadTlsOnHangup::ReloadTlsOnHangup(Server& server) {
    thread_ = std::thread([this, &server] {
        const sigset_t set = hangup_set();
        for (;;) {
            int signal = 0;
            if (sigwait(&set, &signal) != 0) continue;
            if (done_.load(std::memory_order_acquire)) return;
            (void)server.reload_tls();  // says what happened, either way, in the log
        }
    });
}

ReloadTlsOnHangup::~ReloadTlsOnHangup() {
    done_.store(true, std::memory_order_release);
    pthread_kill(thread_.native_handle(), SIGHUP);  // wakes its sigwait()
    thread_.join();
}

}  // namespace surge::tools
