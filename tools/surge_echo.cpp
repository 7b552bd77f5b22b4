// surge-echo: a WebSocket echo server on every path, built on surge::Server. Each message comes back to its
// sender with the same opcode. The demo the README starts, the server the conformance runs and load tools are
// pointed at. SIGINT or SIGTERM closes every connection with 1001 and exits. With --workers N it runs N such
// processes on one port (tools/worker_processes.hpp).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/log.hpp"
#include "tools/worker_processes.hpp"
#include "ws/server.hpp"

namespace {

surge::Server* g_server = nullptr;

void on_signal(int) {
    if (g_server) g_server->stop();  // stop() is async-signal-safe: an atomic store and eventfd writes
}

const char* kUsage =
    "usage: surge-echo [options]\n"
    "  --port N             port to listen on (default 9001; 0 picks a free one)\n"
    "  --address IP         address to listen on (default 0.0.0.0)\n"
    "  --threads N          shards, one thread each (default: online CPUs)\n"
    "  --workers N          processes sharing the port (SO_REUSEPORT), each with --threads shards (default 1).\n"
    "                       Each process has its own descriptor limit: N processes hold N times the connections\n"
    "  --backend B          auto | io_uring | epoll (default auto)\n"
    "  --max-message BYTES  largest message accepted; bigger ones close with 1009 (default 16777216)\n"
    "  --idle-timeout S     seconds without traffic before a ping, then a close (default 120; 0: never)\n"
    "  --help               this text\n";

bool parse_number(const char* text, unsigned long long& out) {
    char* end = nullptr;
    out = std::strtoull(text, &end, 10);
    return end && *end == '\0' && end != text;
}

void announce(std::uint16_t port, unsigned workers, unsigned threads) {
    std::printf("surge-echo: ws://127.0.0.1:%u/ (any path), %u worker%s x %u threads; Ctrl-C stops\n", port, workers,
                workers == 1 ? "" : "s", threads);
    std::fflush(stdout);
}

// One server process: listens, calls `ready` with the port once listening, serves until SIGINT or SIGTERM.
int serve(const surge::ServerConfig& config, surge::WebSocketBehavior echo,
          const std::function<void(std::uint16_t port, unsigned threads)>& ready) {
    // Echo even when the socket pushes back: the message is queued up to max_backpressure, then dropped.
    echo.on_message = [](surge::WebSocket& ws, std::string_view message, surge::Opcode opcode) {
        ws.send(message, opcode);
    };
    surge::Server server(config);
    server.websocket("*", echo);
    server.get("/health", [](const surge::Request&, surge::Response& response) { response.send("ok\n"); });

    g_server = &server;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    const surge::Result<std::uint16_t> port = server.listen();
    if (!port) {
        std::fprintf(stderr, "surge-echo: cannot listen: %s\n", port.error().message().c_str());
        return 1;
    }
    ready(port.value(), server.thread_count());
    const surge::Result<void> ran = server.run();
    g_server = nullptr;
    if (!ran) {
        std::fprintf(stderr, "surge-echo: %s\n", ran.error().message().c_str());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    surge::ServerConfig config;
    surge::WebSocketBehavior echo;
    unsigned workers = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "surge-echo: %s needs a value\n%s", argv[i], kUsage);
            return 2;
        }
        const char* value = argv[++i];
        unsigned long long number = 0;
        const bool numeric = parse_number(value, number);
        if (flag == "--port" && numeric && number <= 65535) {
            config.port = static_cast<std::uint16_t>(number);
        } else if (flag == "--address") {
            config.address = value;
        } else if (flag == "--threads" && numeric && number > 0 && number <= 1024) {
            config.threads = static_cast<unsigned>(number);
        } else if (flag == "--workers" && numeric && number > 0 && number <= 1024) {
            workers = static_cast<unsigned>(number);
        } else if (flag == "--backend" && surge::net::parse_backend(value, config.backend)) {
        } else if (flag == "--max-message" && numeric && number > 0 && number <= (1ULL << 31)) {
            echo.max_message_bytes = number;
        } else if (flag == "--idle-timeout" && numeric && number <= 86400) {
            echo.idle_timeout_seconds = static_cast<unsigned>(number);
        } else {
            std::fprintf(stderr, "surge-echo: bad option %s %s\n%s", argv[i - 1], value, kUsage);
            return 2;
        }
    }

    if (workers == 1) {
        return serve(config, echo, [](std::uint16_t port, unsigned threads) { announce(port, 1, threads); });
    }
    if (config.port == 0) {
        config.port = surge::tools::reserve_port(config.address);
        if (config.port == 0) {
            std::fprintf(stderr, "surge-echo: cannot reserve a port on %s\n", config.address.c_str());
            return 1;
        }
    }
    unsigned threads = 0;
    return surge::tools::run_worker_processes(
        workers,
        [&](unsigned, const std::function<void()>& ready) {
            return serve(config, echo, [&](std::uint16_t, unsigned) { ready(); });
        },
        [&] {
            surge::tools::close_reserved_port();
            threads = config.threads ? config.threads : std::thread::hardware_concurrency();
            announce(config.port, workers, threads);
        });
}
