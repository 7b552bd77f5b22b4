#include "tools/server_main.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "surge/net/address.hpp"
#include "surge/net/listener.hpp"
#include "surge/version.hpp"
#include "tools/worker_processes.hpp"

namespace surge::tools {

const char* const kServerFlagsUsage =
    "  --port N             port to listen on (default 9001; 0 picks a free one)\n"
    "  --address IP         address to listen on (default 0.0.0.0; :: for IPv6 and IPv4 both)\n"
    "  --access-log FILE    a line per HTTP answer, upgrade and refusal: time, client, request, status, bytes\n"
    "                       (- for standard output; default none)\n"
    "  --trusted-proxies L  proxies (IPs or CIDR ranges, comma-separated) whose X-Forwarded-For or Forwarded\n"
    "                       headers name the client; nobody else's are believed (default: none)\n"
    "  --threads N          shards, one thread each (default: online CPUs)\n"
    "  --workers N          processes sharing the port (SO_REUSEPORT), each with --threads shards (default 1).\n"
    "                       Each process has its own descriptor limit: N processes hold N times the connections\n"
    "  --backend B          auto | io_uring | epoll (default auto)\n"
"  --wait-batch N       a busy shard sleeps until N completions are pending, or --wait-batch-us have passed,\n"
    "                       then handles them together (default 1: wakes at each): fewer wake-ups per message\n"
    "                       under load, for at most --wait-batch-us more latency. On io_uring (kernel 6.13+) an\n"
    "                       idle shard still wakes at once; on epoll a busy one sleeps when less than N are ready\n"
    "  --wait-batch-us US   the longest a batch is waited for, microseconds (default 200)\n"
    "  --idle-timeout S     seconds without traffic before a ping, then a close (default 30; 0: never)\n"
    "  --max-connections N  connections per process at once (default: the descriptor limit less 64); past it: 503\n"
    "  --max-handshakes N   slow handshakes per shard (an HTTP request or TLS handshake not done; default 4096):\n"
    "                       past it each new connection ends the oldest with 408 if it has taken a second or\n"
    "                       more. Slow clients cannot hold the server's door shut; a burst of fast ones is let in\n"
    "  --deflate MODE       permessage-deflate for clients that offer it: off (default); shared (each message\n"
    "                       compressed alone, nothing kept per connection); dedicated (a window per connection\n"
    "                       and direction kept between messages: better ratio, about 300 KiB per connection)\n"
    "  --deflate-window B   the largest window the server compresses with, 2^B bytes (9..15, default 15)\n"
    "  --cert FILE          TLS: serve wss:// and https:// with this PEM certificate (chain) and --key\n"
    "  --key FILE           TLS: the certificate's PEM private key\n"
    "  --version            the version, then exit\n"
    "  (environment) SURGE_LOG=trace|debug|info|warn|error|off: what is logged to stderr (default info)\n";

bool parse_number(const char* text, unsigned long long& out) {
    char* end = nullptr;
    out = std::strtoull(text, &end, 10);
    return end && *end == '\0' && end != text;
}

bool parse_listen_address(std::string_view text, std::string& address, std::uint16_t& port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    net::IpAddress ip;
    if (!net::IpAddress::parse(text.substr(0, colon), ip)) return false;
    const std::string port_text(text.substr(colon + 1));
    unsigned long long number = 0;
    if (!parse_number(port_text.c_str(), number) || number > 65535) return false;
    address = ip.text();
    port = static_cast<std::uint16_t>(number);
    return true;
}

std::string url_host(std::string_view listen_address) {
    if (listen_address == "0.0.0.0") return "127.0.0.1";
    if (listen_address == "::") return "[::1]";
    if (listen_address.find(':') != std::string_view::npos) return "[" + std::string(listen_address) + "]";
    return std::string(listen_address);
}

Flag take_server_flag(std::string_view flag, const char* value, ServerFlags& out) {
    unsigned long long number = 0;
    const bool numeric = parse_number(value, number);
    if (flag == "--port") {
        if (!numeric || number > 65535) return Flag::BadValue;
        out.config.port = static_cast<std::uint16_t>(number);
    } else if (flag == "--address") {
        net::IpAddress ip;
        if (!net::IpAddress::parse(value, ip)) return Flag::BadValue;
        out.config.address = ip.text();  // without brackets, as the listener takes it
    } else if (flag == "--access-log") {
        auto log = std::make_shared<AccessLog>();
        std::string error;
        if (!log->open(value, error)) return Flag::BadValue;
        out.access_log = log;
        out.config.on_access = [log](const AccessRecord& record) { log->write(record); };
    } else if (flag == "--trusted-proxies") {
        out.config.trusted_proxies.clear();
        std::string_view list = value;
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            const std::string_view entry = list.substr(0, comma);
            net::AddressRange range;
            if (!net::AddressRange::parse(entry, range)) return Flag::BadValue;
            out.config.trusted_proxies.emplace_back(entry);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
        if (out.config.trusted_proxies.empty()) return Flag::BadValue;
    } else if (flag == "--threads") {
        if (!numeric || number == 0 || number > 1024) return Flag::BadValue;
        out.config.threads = static_cast<unsigned>(number);
    } else if (flag == "--workers") {
        if (!numeric || number == 0 || number > 1024) return Flag::BadValue;
        out.workers = static_cast<unsigned>(number);
    } else if (flag == "--backend") {
        if (!net::parse_backend(value, out.config.backend)) return Flag::BadValue;
    } else if (flag == "--deflate") {
        const std::string_view mode = value;
        if (mode != "off" && mode != "shared" && mode != "dedicated") return Flag::BadValue;
        out.deflate.enabled = mode != "off";
        out.deflate.dedicated_compressor = out.deflate.dedicated_decompressor = mode == "dedicated";
    } else if (flag == "--deflate-window") {
        if (!numeric || number < 9 || number > 15) return Flag::BadValue;
        out.deflate.server_max_window_bits = static_cast<std::uint8_t>(number);
    } else if (flag == "--cert") {
        out.config.tls_cert_file = value;
    } else if (flag == "--key") {
        out.config.tls_key_file = value;
    } else if (flag == "--max-connections") {
        if (!numeric || number == 0 || number > 100'000'000) return Flag::BadValue;
        out.config.max_connections = number;
    } else if (flag == "--max-handshakes") {
        if (!numeric || number == 0 || number > 10'000'000) return Flag::BadValue;
        out.config.max_handshakes_per_shard = static_cast<std::uint32_t>(number);
    } else if (flag == "--wait-batch") {
        if (!numeric || number == 0 || number > 4096) return Flag::BadValue;
        out.config.wait_batch = static_cast<unsigned>(number);
    } else if (flag == "--wait-batch-us") {
        if (!numeric || number == 0 || number > 100'000) return Flag::BadValue;
        out.config.wait_batch_us = static_cast<unsigned>(number);
        out.wait_batch_us_given = true;
    } else if (flag == "--idle-timeout") {
        if (!numeric || number > 86400) return Flag::BadValue;
        out.idle_timeout_seconds = static_cast<unsigned>(number);
    } else {
        return Flag::NotMine;
    }
    return Flag::Taken;
}

namespace {

// The common flags, and what each expects (said when a value is refused).
struct CommonFlag {
    std::string_view name;
    std::string_view expects;
};
constexpr CommonFlag kCommonFlags[] = {
    {"--port", "a port, 0 to 65535"},
    {"--address", "an IPv4 or IPv6 address to listen on: 0.0.0.0, ::, 127.0.0.1, ::1"},
    {"--access-log", "a file the server may append to, or - for standard output"},
    {"--trusted-proxies", "comma-separated IP addresses or CIDR ranges: 127.0.0.1,10.0.0.0/8,::1"},
    {"--threads", "1 to 1024"},
    {"--workers", "1 to 1024"},
    {"--backend", "auto, io_uring or epoll"},
    {"--deflate", "off, shared or dedicated"},
    {"--deflate-window", "9 to 15"},
    {"--cert", "a PEM file"},
    {"--key", "a PEM file"},
    {"--wait-batch", "completions, 1 to 4096"},
    {"--wait-batch-us", "microseconds, 1 to 100000"},
    {"--idle-timeout", "seconds, 0 to 86400"},
    {"--max-connections", "1 to 100000000"},
    {"--max-handshakes", "1 to 10000000"},
};

const CommonFlag* common_flag(std::string_view name) {
    for (const CommonFlag& flag : kCommonFlags) {
        if (flag.name == name) return &flag;
    }
    return nullptr;
}

}  // namespace

int parse_server_command_line(const char* name, int argc, char** argv, void (*usage)(std::FILE* to),
                              ServerFlags& flags, std::span<const std::string_view> own_flags,
                              const TakeOwnFlag& take_own) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            usage(stdout);
            return 0;
        }
        if (flag == "--version") {
            std::printf("%s %.*s\n", name, static_cast<int>(kVersion.size()), kVersion.data());
            return 0;
        }
        const CommonFlag* common = common_flag(flag);
        const bool own = std::find(own_flags.begin(), own_flags.end(), flag) != own_flags.end();
        if (!common && !own) {
            std::fprintf(stderr, "%s: unknown option %s (--help lists them)\n", name, argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", name, argv[i]);
            return 2;
        }
        const char* value = argv[++i];
        if (common) {
            if (take_server_flag(flag, value, flags) == Flag::Taken) continue;
            std::fprintf(stderr, "%s: bad value for %s: '%s' (expected %.*s)\n", name, argv[i - 1], value,
                         static_cast<int>(common->expects.size()), common->expects.data());
            return 2;
        }
        if (take_own(flag, value)) continue;
        std::fprintf(stderr, "%s: bad value for %s: '%s' (--help says what it takes)\n", name, argv[i - 1], value);
        return 2;
    }
    if (flags.config.wait_batch == 1 && flags.wait_batch_us_given) {
        std::fprintf(stderr, "%s: --wait-batch-us is the longest wait for a batch: it needs --wait-batch N (N > 1)\n",
                     name);
        return 2;
    }
    if (flags.config.tls_cert_file.empty() != flags.config.tls_key_file.empty()) {
        std::fprintf(stderr, "%s: %s\n", name,
                     flags.config.tls_key_file.empty() ? "--cert needs --key (the certificate's private key)"
                                                       : "--key needs --cert (the certificate it belongs to)");
        return 2;
    }
    return -1;
}

int run_servers(const char* name, ServerFlags& flags, const ServeOne& serve, const Announce& announce) {
    if (flags.workers == 1) {
        return serve(0, [&](std::uint16_t port, unsigned threads) { announce(port, 1, threads); });
    }
    if (flags.config.port == 0) {
        flags.config.port = reserve_port(flags.config.address);
        if (flags.config.port == 0) {
            std::fprintf(stderr, "%s: cannot reserve a port on %s\n", name, flags.config.address.c_str());
            return 1;
        }
    } else if (const int free = net::check_port_free(flags.config.address, flags.config.port); free != 0) {
        // Checked once here: the workers join each other's SO_REUSEPORT group, and no one else's.
        std::fprintf(stderr, "%s: cannot listen on %s:%u: %s%s\n", name, flags.config.address.c_str(),
                     flags.config.port, std::strerror(-free),
                     free == -EADDRINUSE ? " (another process serves this port: stop it or pick another port)" : "");
        return 1;
    }
    flags.config.exclusive_port = false;  // the workers share the port with each other
    return run_worker_processes(
        flags.workers,
        [&](unsigned index, const std::function<void()>& ready) {
            // In the worker's own process: its shards go to CPUs of their own. Every worker pinning from CPU 0
            // put all of them on that one CPU (with --threads 1 on two CPUs, the other served only clients).
            // When the workers' shards outnumber the CPUs, no fixed placement is even, so the scheduler places
            // them, by load.
            const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
            const unsigned threads = flags.config.threads ? flags.config.threads : cpus;
            if (static_cast<unsigned long long>(flags.workers) * threads > cpus) flags.config.pin_threads = false;
            else flags.config.first_cpu = index * threads;
            return serve(index, [&](std::uint16_t, unsigned) { ready(); });
        },
        [&] {
            close_reserved_port();
            announce(flags.config.port, flags.workers,
                     flags.config.threads ? flags.config.threads : std::thread::hardware_concurrency());
        });
}

}  // namespace surge::tools
