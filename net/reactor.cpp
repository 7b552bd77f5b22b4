#include "net/reactor.hpp"

#include <cerrno>

#include "net/epoll_reactor.hpp"

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

ReactorResult make_reactor(Backend backend, ReactorHandler& handler) {
    ReactorResult result;
    if (backend == Backend::IoUring) {
        // The io_uring backend is the next piece of issue 3; until it lands, asking for it is an error rather
        // than a silent fallback.
        result.error = -ENOSYS;
        result.why = "the io_uring backend is not built yet";
        return result;
    }
    int error = 0;
    result.reactor = EpollReactor::create(handler, error);
    result.error = error;
    result.why = backend == Backend::Auto ? "auto: epoll (the io_uring backend is not built yet)" : "asked for epoll";
    return result;
}

}  // namespace surge::net
