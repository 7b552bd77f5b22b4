// raw-fanout: the baseline of bench/fanout.sh, the physical limit surge-push's fan-out is measured against. It
// speaks just enough of the protocol for surge-load to subscribe (any GET is upgraded with the RFC's accept key)
// and to publish (POST /publish with a body), and fans each published body out the plainest way there is: one
// frame built once, then a loop of send() calls, one per subscriber socket, on one thread. No queues, no
// topics, no backpressure: a send the socket does not take whole is counted as short and forgotten.
// Usage: raw-fanout [--port N]   (prints its URL; SIGINT/SIGTERM ends it and prints what it sent)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
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

struct Connection {
    std::string head;  // the request so far
    bool subscriber = false;
};

int listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // accept until EAGAIN
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::string_view(argv[i]) == "--port") port = static_cast<std::uint16_t>(std::atoi(argv[i + 1]));
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    const int listener = listen_on(port);
    std::printf("raw-fanout: ws://127.0.0.1:%u/ (subscribe), POST http://127.0.0.1:%u/publish\n", bound_port(listener),
                bound_port(listener));
    std::fflush(stdout);

    const int poller = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{EPOLLIN, {.fd = listener}};
    ::epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
    std::unordered_map<int, Connection> connections;
    std::vector<int> subscribers;
    unsigned long long published = 0, sent = 0, short_sends = 0;
    std::string frame;
    char buffer[65536];
    epoll_event events[256];

    while (!g_stop) {
        const int n = ::epoll_wait(poller, events, 256, 200);
        for (int e = 0; e < n; ++e) {
            const int fd = events[e].data.fd;
            if (fd == listener) {
                for (;;) {
                    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
                    if (client < 0) break;
                    const int one = 1;
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event watch{EPOLLIN, {.fd = client}};
                    ::epoll_ctl(poller, EPOLL_CTL_ADD, client, &watch);
                    connections[client] = {};
                }
                continue;
            }
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            Connection& c = connections[fd];
            if (got <= 0) {
                if (c.subscriber) std::erase(subscribers, fd);
                connections.erase(fd);
                ::close(fd);
                continue;
            }
            if (c.subscriber) continue;  // subscribers send nothing that matters here (pongs, closes)
            c.head.append(buffer, static_cast<std::size_t>(got));
            surge::HttpRequestParser parser(16 * 1024);
            surge::HttpRequest request;
            const surge::ParseResult parsed = parser.parse(c.head, request);
            if (parsed.status == surge::ParseStatus::Incomplete) continue;
            if (parsed.status == surge::ParseStatus::Error) {
                connections.erase(fd);
                ::close(fd);
                continue;
            }
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
                subscribers.push_back(fd);
                continue;
            }
            // POST: wait for the whole body, then fan it out.
            const surge::HttpHeader* length = request.find("Content-Length");
            const std::size_t body_length = length ? std::strtoul(std::string(length->value).c_str(), nullptr, 10) : 0;
            if (c.head.size() < parsed.head_bytes + body_length) continue;
            const std::string_view body(c.head.data() + parsed.head_bytes, body_length);
            frame.resize(surge::kMaxFrameHeaderBytes);
            frame.resize(surge::encode_frame_header(frame.data(), surge::Opcode::Text, body.size()));
            frame.append(body);
            // The loop this benchmark is about.
            for (const int subscriber : subscribers) {
                const ssize_t n_sent = ::send(subscriber, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n_sent == static_cast<ssize_t>(frame.size())) ++sent;
                else ++short_sends;
            }
            ++published;
            write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            connections.erase(fd);
            ::close(fd);
        }
    }
    std::printf("raw-fanout: %llu published, %llu frames sent whole, %llu short or failed, %zu subscribers\n",
                published, sent, short_sends, subscribers.size());
    return 0;
}
