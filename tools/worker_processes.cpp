#include "tools/worker_processes.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "tools/hangup_reload.hpp"

namespace surge::tools {
namespace {

// The workers' pids, for the signal handler (which may only read plain memory).
constexpr unsigned kMaxWorkers = 4096;
pid_t g_workers[kMaxWorkers];
volatile sig_atomic_t g_worker_count = 0;
int g_reserved_port_fd = -1;

void forward_signal(int signal) {
    for (int i = 0; i < g_worker_count; ++i) {
        if (g_workers[i] > 0) ::kill(g_workers[i], signal);
    }
}

}  // namespace

int run_worker_processes(unsigned workers, const WorkerBody& body, const std::function<void()>& on_ready) {
    if (workers == 0 || workers > kMaxWorkers) return 2;
    int ready_pipe[2];
    if (::pipe2(ready_pipe, O_CLOEXEC) != 0) return 1;
    struct sigaction forward {};
    forward.sa_handler = forward_signal;
    ::sigaction(SIGINT, &forward, nullptr);
    ::sigaction(SIGTERM, &forward, nullptr);
    ::sigaction(SIGHUP, &forward, nullptr);  // a reload, for every worker

    for (unsigned i = 0; i < workers; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("fork");
            forward_signal(SIGTERM);
            break;
        }
        if (pid == 0) {
            ::close(ready_pipe[0]);
            close_reserved_port();
            g_worker_count = 0;  // the body installs its own handlers; until then, a signal is the default's
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            block_hangup();  // taken by the worker's reload thread (tools/hangup_reload.hpp), never by a handler
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the parent
            if (::getppid() == 1) ::_exit(1);    // the parent died before prctl took effect
            const int write_end = ready_pipe[1];
            const int status = body(i, [write_end] {
                const char byte = 1;
                [[maybe_unused]] const ssize_t n = ::write(write_end, &byte, 1);
                ::close(write_end);
            });
            std::fflush(nullptr);
            ::_exit(status);
        }
        g_workers[i] = pid;
        g_worker_count = static_cast<sig_atomic_t>(i + 1);
    }
    ::close(ready_pipe[1]);

    // Every worker writes one byte once it listens; a worker that fails before that closes its end without one.
    unsigned ready = 0;
    char bytes[256];
    while (ready < static_cast<unsigned>(g_worker_count)) {
        const ssize_t n = ::read(ready_pipe[0], bytes, sizeof bytes);
        if (n > 0) {
            ready += static_cast<unsigned>(n);
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(ready_pipe[0]);
    if (ready == workers) {
        on_ready();
    } else {
        std::fprintf(stderr, "only %u of %u workers started; stopping them\n", ready, workers);
        forward_signal(SIGTERM);
    }

    int worst = ready == workers ? 0 : 1;
    for (int i = 0; i < g_worker_count; ++i) {
        int status = 0;
        while (::waitpid(g_workers[i], &status, 0) < 0 && errno == EINTR) {
        }
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code != 0 && worst == 0) worst = code;
        g_workers[i] = 0;
    }
    return worst;
}

std::uint16_t reserve_port(const std::string& address) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    if (::inet_pton(AF_INET, address.c_str(), &at.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        ::close(fd);
        return 0;
    }
    socklen_t length = sizeof at;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &length);
    g_reserved_port_fd = fd;
    return ntohs(at.sin_port);
}

void close_reserved_port() {
    if (g_reserved_port_fd >= 0) ::close(g_reserved_port_fd);
    g_reserved_port_fd = -1;
}

}  // namespace surge::tools
