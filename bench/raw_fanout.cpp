// raw-fanout: the baseline surge-push's fan-out is measured against (bench/fanout.sh, bench/million_push.sh): the
// plainest delivery there is, not a lower bound (io_uring's batched sends beat its send() per subscriber at 200,000
// subscribers, README). It speaks just enough of the protocol for surge-load and surge-stress to subscribe (any GET is
// upgraded with the RFC's accept key) and to publish (POST /publish with a body), and fans each published body
// out the plainest way there is: one frame built once, then a loop of send() calls, one per subscriber socket, on
// one thread. No queues, no topics, no backpressure: a send the socket does not take whole is counted as short
// and forgotten.
//
// --workers N forks N such processes (one process holds at most its descriptor limit of sockets) listening on one
// port (SO_REUSEPORT spreads the subscribers); whichever takes a publish writes the body to every worker's pipe,
// and each worker fans out what its pipe brings, so a publication reaches the subscribers of all of them.
// Usage: raw-fanout [--port N] [--workers N]   (prints its URL; SIGINT/SIGTERM ends it; each process prints what
//        it sent)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/ws/frame_header.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// A publication on a worker's pipe: its length, then its bytes, written whole (a pipe write of at most PIPE_BUF
// bytes is never interleaved with another's).
using RecordLength = std::uint32_t;
constexpr std::size_t kMaxBody = PIPE_BUF - sizeof(RecordLength);

struct Connection {
    std::string head;  // the request so far
    bool subscriber = false;
    std::size_t index = 0;  // in `subscribers`, while a subscriber
};

int listen_on(std::uint16_t port, bool shared) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // accept until EAGAIN
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (shared) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 4096) != 0) {
        std::perror("raw-fanout: listen");
        std::exit(1);
    }
    return fd;
}

std::uint16_t bound_port(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// One process's loop: subscribers and publishers arrive on `listener`; a publish is written to every one of
// `fanout_pipes` (this process's own among them); what `own_pipe` brings is sent to this process's subscribers.
class Worker {
public:
    Worker(int listener, int own_pipe, std::vector<int> fanout_pipes)
        : listener_(listener), own_pipe_(own_pipe), fanout_pipes_(std::move(fanout_pipes)) {}

    int run() {
        const int poller = ::epoll_create1(EPOLL_CLOEXEC);
        for (const int fd : {listener_, own_pipe_}) {
            epoll_event event{EPOLLIN, {.fd = fd}};
            ::epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event);
        }
        epoll_event events[256];
        while (!g_stop) {
            const int n = ::epoll_wait(poller, events, 256, 200);
            for (int e = 0; e < n; ++e) {
                const int fd = events[e].data.fd;
                if (fd == listener_) accept_all(poller);
                else if (fd == own_pipe_) read_pipe();
                else read_connection(fd);
            }
        }
        std::printf("raw-fanout[%d]: %llu published, %llu frames sent whole, %llu short or failed, %zu subscribers"
                    "%s\n",
                    static_cast<int>(::getpid()), published_, sent_, short_sends_, subscribers_.size(),
                    lost_to_pipes_ ? " (a worker's pipe was full: publications lost)" : "");
        return 0;
    }

private:
    void accept_all(int poller) {
        for (;;) {
            const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) return;
            const int one = 1;
            ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            epoll_event watch{EPOLLIN, {.fd = client}};
            ::epoll_ctl(poller, EPOLL_CTL_ADD, client, &watch);
            connections_[client] = {};
        }
    }

    void drop(int fd) {
        Connection& c = connections_[fd];
        if (c.subscriber) {  // the last one takes its place
            subscribers_[c.index] = subscribers_.back();
            connections_[subscribers_[c.index]].index = c.index;
            subscribers_.pop_back();
        }
        connections_.erase(fd);
        ::close(fd);
    }

    void read_connection(int fd) {
        const ssize_t got = ::recv(fd, buffer_, sizeof buffer_, 0);
        Connection& c = connections_[fd];
        if (got <= 0) return drop(fd);
        if (c.subscriber) return;  // subscribers send nothing that matters here (pongs, closes)
        c.head.append(buffer_, static_cast<std::size_t>(got));
        surge::HttpRequestParser parser(16 * 1024);
        surge::HttpRequest request;
        const surge::ParseResult parsed = parser.parse(c.head, request);
        if (parsed.status == surge::ParseStatus::Incomplete) return;
        if (parsed.status == surge::ParseStatus::Error) return drop(fd);
        if (request.method == "GET") {
            const surge::HttpHeader* key = request.find("Sec-WebSocket-Key");
            char accept[surge::kAcceptKeyLength];
            surge::compute_accept_key(key ? key->value : std::string_view{}, accept);
            std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
            response.append(accept, surge::kAcceptKeyLength).append("\r\n\r\n");
            write_all(fd, response);
            c.subscriber = true;
            c.head.clear();
            c.head.shrink_to_fit();
            c.index = subscribers_.size();
            subscribers_.push_back(fd);
            return;
        }
        // POST: wait for the whole body, then hand it to every worker.
        const surge::HttpHeader* length = request.find("Content-Length");
        const std::size_t body_length = length ? std::strtoul(std::string(length->value).c_str(), nullptr, 10) : 0;
        if (c.head.size() < parsed.head_bytes + body_length) return;
        if (body_length > kMaxBody) {
            write_all(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return drop(fd);
        }
        std::string record(sizeof(RecordLength), '\0');
        const auto record_length = static_cast<RecordLength>(body_length);
        std::memcpy(record.data(), &record_length, sizeof record_length);
        record.append(c.head, parsed.head_bytes, body_length);
        for (const int pipe : fanout_pipes_) {
            if (::write(pipe, record.data(), record.size()) != static_cast<ssize_t>(record.size())) ++lost_to_pipes_;
        }
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        drop(fd);
    }

    void read_pipe() {
        const ssize_t got = ::read(own_pipe_, buffer_, sizeof buffer_);
        if (got <= 0) return;
        pending_.append(buffer_, static_cast<std::size_t>(got));
        RecordLength length = 0;
        while (pending_.size() >= sizeof length) {
            std::memcpy(&length, pending_.data(), sizeof length);
            if (pending_.size() < sizeof length + length) break;
            fan_out(std::string_view(pending_).substr(sizeof length, length));
            pending_.erase(0, sizeof length + length);
        }
    }

    void fan_out(std::string_view body) {
        frame_.resize(surge::kMaxFrameHeaderBytes);
        frame_.resize(surge::encode_frame_header(frame_.data(), surge::Opcode::Text, body.size()));
        frame_.append(body);
        // The loop this benchmark is about.
        for (const int subscriber : subscribers_) {
            const ssize_t n_sent = ::send(subscriber, frame_.data(), frame_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n_sent == static_cast<ssize_t>(frame_.size())) ++sent_;
            else ++short_sends_;
        }
        ++published_;
    }

    int listener_, own_pipe_;
    std::vector<int> fanout_pipes_;
    std::unordered_map<int, Connection> connections_;
    std::vector<int> subscribers_;
    std::string frame_, pending_;
    unsigned long long published_ = 0, sent_ = 0, short_sends_ = 0, lost_to_pipes_ = 0;
    char buffer_[65536];
};

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    int workers = 1;
    for (int i = 1; i < argc; i += 2) {
        const std::string_view flag = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (flag == "--port" && value) port = static_cast<std::uint16_t>(std::atoi(value));
        else if (flag == "--workers" && value && std::atoi(value) >= 1) workers = std::atoi(value);
        else {
            std::fprintf(stderr, "raw-fanout: unknown or incomplete flag %s (usage: raw-fanout [--port N] "
                                 "[--workers N>=1])\n", argv[i]);
            return 2;
        }
    }
    struct sigaction action {};
    action.sa_handler = on_signal;  // no SA_RESTART: the parent's waitpid() returns to pass the signal on
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::vector<int> listeners, readers, writers;
    for (int i = 0; i < workers; ++i) {
        listeners.push_back(listen_on(i == 0 ? port : bound_port(listeners[0]), workers > 1));
        int ends[2];
        if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) {
            std::perror("raw-fanout: pipe");
            return 1;
        }
        readers.push_back(ends[0]);
        writers.push_back(ends[1]);
    }
    std::printf("raw-fanout: ws://127.0.0.1:%u/ (subscribe), POST http://127.0.0.1:%u/publish, %d worker%s\n",
                bound_port(listeners[0]), bound_port(listeners[0]), workers, workers > 1 ? "s" : "");
    std::fflush(stdout);
    if (workers == 1) return Worker(listeners[0], readers[0], writers).run();

    std::vector<pid_t> children;
    for (int i = 0; i < workers; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("raw-fanout: fork");
            g_stop = 1;
            break;
        }
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the parent
            for (int j = 0; j < workers; ++j) {
                if (j == i) continue;
                ::close(listeners[j]);
                ::close(readers[j]);
            }
            std::_Exit(Worker(listeners[i], readers[i], writers).run() == 0 && std::fflush(stdout) == 0 ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (int i = 0; i < workers; ++i) {
        ::close(listeners[i]);
        ::close(readers[i]);
        ::close(writers[i]);
    }
    int status = 0;
    std::size_t running = children.size();
    bool passed_on = false;
    while (running > 0) {
        if (g_stop && !passed_on) {
            for (const pid_t child : children) ::kill(child, SIGTERM);
            passed_on = true;
        }
        int child_status = 0;
        if (::waitpid(-1, &child_status, 0) > 0) {
            --running;
            if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) status = 1;
            if (!g_stop) g_stop = 1;  // one worker gone: end the others rather than serve a part
        } else if (errno != EINTR) {
            break;
        }
    }
    return status;
}
