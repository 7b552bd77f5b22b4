// What the shipped servers (surge-echo, surge-push) share around their routes: the command-line flags every
// one of them takes, and running one process or --workers N of them. Layer: tools.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "surge/ws/server.hpp"
#include "tools/access_log.hpp"

namespace surge::tools {

// The flags common to the servers, and the usage lines that describe them.
struct ServerFlags {
    ServerConfig config;
    unsigned workers = 1;
    unsigned idle_timeout_seconds = 30;
    bool wait_batch_us_given = false;  // --wait-batch-us means nothing without --wait-batch: said, not ignored
    DeflateOptions deflate;  // for the server's WebSocket routes
    std::shared_ptr<AccessLog> access_log;  // --access-log: config.on_access writes to it
};
extern const char* const kServerFlagsUsage;

// A decimal number and nothing else.
bool parse_number(const char* text, unsigned long long& out);

// "IP:PORT" ("127.0.0.1:9002", "[::1]:9002"): false unless the IP is a numeric IPv4 or IPv6 address and the port
// a number up to 65535 (0: any free one).
bool parse_listen_address(std::string_view text, std::string& address, std::uint16_t& port);

// How a URL names the host a server listens on, for its start-up line: the loopback address of the listening
// family for a wildcard ("0.0.0.0" -> 127.0.0.1, "::" -> [::1]), an IPv6 literal in brackets, anything else as is.
std::string url_host(std::string_view listen_address);

enum class Flag { NotMine, Taken, BadValue };
// Takes --port, --address, --threads, --workers, --backend, --wait-batch, --wait-batch-us, --idle-timeout,
// --deflate, --deflate-window, --cert or --key with its value.
Flag take_server_flag(std::string_view flag, const char* value, ServerFlags& out);

// A server's own flags: takes one of `own_flags` with its value, or returns false for a bad value (after saying
// why on stderr, when there is more to say than "bad value").
using TakeOwnFlag = std::function<bool(std::string_view flag, const char* value)>;
// Parses the command line: --help (or -h) prints `usage` to stdout; every other flag takes a value and is either
// a common one or one of `own_flags`. Each mistake gets a line that names it: an unknown option, a missing value,
// a bad value (with what was expected, for the common flags), --cert without --key or the reverse. Returns the
// exit status when the program should end now (0 after --help, 2 after a mistake), or -1 to go on.
int parse_server_command_line(const char* name, int argc, char** argv, void (*usage)(std::FILE* to),
                              ServerFlags& flags, std::span<const std::string_view> own_flags,
                              const TakeOwnFlag& take_own);

// One server process: calls `ready(port, threads)` once listening, serves, returns its exit status.
using ServeOne = std::function<int(unsigned worker, const std::function<void(std::uint16_t port, unsigned threads)>& ready)>;
using Announce = std::function<void(std::uint16_t port, unsigned workers, unsigned threads)>;

// Runs `serve` in this process (one worker) or in flags.workers forked processes sharing the port (a port of 0 is
// reserved first so that all agree on it), and calls `announce` once every one listens. `name` prefixes errors.
int run_servers(const char* name, ServerFlags& flags, const ServeOne& serve, const Announce& announce);

}  // namespace surge::tools
