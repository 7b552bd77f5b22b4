#include "surge/net/reactor.hpp"

#include <cerrno>

#include "surge/net/epoll_reactor.hpp"
#include "surge/net/uring_probe.hpp"
#include "surge/net/uring_reactor.hpp"

namespace surge::net {

std::string_view backend_name(Backend backend) noexcept {
    switch (backend) {
    case Backend::Auto: return "auto";
    case Backend::IoUring: return "io_uring";
    case Backend::Epoll: return "epoll";
    }
    return "?";
}

bool parse_backend(std::string_view text, Backend& out) noexcept {
    for (Backend b : {Backend::Auto, Backend::IoUring, Backend::Epoll}) {
        if (text == backend_name(b)) {
            out = b;
            return true;
        }
    }
    return false;
}

void Reactor::try_write_batch(std::span<BatchedWrite> writes) noexcept {
    for (BatchedWrite& w : writes) w.result = try_write(w.fd, w.iov, w.count);
}

ReactorResult make_reactor(Backend backend, ReactorHandler& handler) {
    ReactorResult result;
    int error = 0;
    if (backend != Backend::Epoll) {
        // io_uring only after the probe has seen every feature it needs work in this process.
        const std::string& missing = uring_unsupported_reason();
        std::string how;
        if (missing.empty()) {
            result.reactor = UringReactor::create(handler, error, how);
            if (result.reactor) {
                result.why = (backend == Backend::Auto ? "auto; " : "asked for; ") + how;
                return result;
            }
        } else {
            error = -ENOTSUP;
            how = missing;
        }
        if (backend == Backend::IoUring) {  // asked for by name: an error, not a silent fallback
            result.error = error;
            result.why = "io_uring unavailable: " + how;
            return result;
        }
        result.why = "auto; io_uring is unavailable: " + how;
    } else {
        result.why = "asked for";
    }
    result.reactor = EpollReactor::create(handler, error);
    result.error = error;
    return result;
}

}  // namespace surge::net
