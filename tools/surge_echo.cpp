// surge-echo: a WebSocket echo server on every path, built on surge::Server. Each message comes back to its
// sender with the same opcode. The demo the README starts, the server the conformance runs and load tools are
// pointed at. SIGINT or SIGTERM closes every connection with 1001 and exits; SIGHUP reloads the TLS certificate
// and key. With --workers N it runs N such
// processes on one port (tools/worker_processes.hpp).
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "surge/core/log.hpp"
#include "tools/hangup_reload.hpp"
#include "tools/memory_return.hpp"
#include "tools/server_main.hpp"
#include "surge/ws/server.hpp"

namespace {

constexpr std::string_view kOwnFlags[] = {"--max-message"};

surge::Server* g_server = nullptr;

void on_signal(int) {
    if (g_server) g_server->stop();  // stop() is async-signal-safe: an atomic store and eventfd writes
}

void usage(std::FILE* to) {
    std::fprintf(to, "usage: surge-echo [options]\n%s"
                     "  --max-message BYTES  largest message accepted; bigger ones close with 1009 (default 16777216)\n"
                     "  --help               this text\n",
                 surge::tools::kServerFlagsUsage);
}

void announce(const std::string& host, bool tls, std::uint16_t port, unsigned workers, unsigned threads) {
    std::printf("surge-echo: %s://%s:%u/ (any path), %u worker%s x %u threads; Ctrl-C stops\n", tls ? "wss" : "ws",
                host.c_str(), port, workers, workers == 1 ? "" : "s", threads);
    std::fflush(stdout);
}

// One server process: listens, calls `ready` with the port once listening, serves until SIGINT or SIGTERM.
int serve(const surge::ServerConfig& config, surge::WebSocketBehavior echo,
          const std::function<void(std::uint16_t port, unsigned threads)>& ready) {
    surge::tools::block_hangup();  // before any thread: SIGHUP is for the reload thread below
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
    const surge::tools::MemoryReturn memory_return(server);  // gives a burst's memory back once it has passed
    const surge::tools::ReloadTlsOnHangup reload(server);     // SIGHUP: the certificate and key read again
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
    surge::tools::ServerFlags flags;
    surge::WebSocketBehavior echo;
    const int status = surge::tools::parse_server_command_line(
        "surge-echo", argc, argv, usage, flags, kOwnFlags, [&](std::string_view flag, const char* value) {
            unsigned long long number = 0;
            if (flag != "--max-message" || !surge::tools::parse_number(value, number) || number == 0 ||
                number > (1ULL << 31)) {
                return false;
            }
            echo.max_message_bytes = number;
            return true;
        });
    if (status >= 0) return status;
    echo.idle_timeout_seconds = flags.idle_timeout_seconds;
    echo.deflate = flags.deflate;
    return surge::tools::run_servers(
        "surge-echo", flags, [&](unsigned, const auto& ready) { return serve(flags.config, echo, ready); },
        [&](std::uint16_t port, unsigned workers, unsigned threads) {
            announce(surge::tools::url_host(flags.config.address), !flags.config.tls_cert_file.empty(), port, workers,
                     threads);
        });
}
