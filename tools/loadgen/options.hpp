// Command-line helpers shared by surge-load and surge-stress. Layer: tools.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surge/net/tls.hpp"
#include "surge/ws/client.hpp"

namespace surge::loadgen {

// A count with an optional k/m suffix (thousands, millions): "5000", "10k", "1m", "2.5k".
bool parse_count(std::string_view text, double& out) noexcept;
// Seconds with an optional unit: "30", "30s", "500ms", "2m".
bool parse_seconds(std::string_view text, double& out) noexcept;
// What both tools ask of the connections they make.
struct RequestFlags {
    std::string headers;       // --header 'Name: value' (repeatable): one line each
    std::string subprotocols;  // --subprotocol P (repeatable): comma-separated
    bool deflate = false;      // --deflate on|off: offer permessage-deflate
    std::string ca_file;       // --ca FILE: trust this certificate (chain) for wss://, instead of the system's
    net::Backend backend = net::Backend::Auto;  // --client-backend auto|io_uring|epoll: the client's reactor
};
extern const char* const kRequestUsage;
// The TLS context (certificates verified) into `tls` when any of `urls` is wss://. False, with the reason on
// stderr after `tool`'s name, when it cannot be made.
bool make_client_tls(const char* tool, const std::vector<Url>& urls, const RequestFlags& flags,
                     std::unique_ptr<net::TlsContext>& tls);
ClientOptions client_options(const RequestFlags& flags, const net::TlsContext* tls);

// What both tools' command lines share, and where parse_arguments() puts it.
struct CommonArguments {
    std::vector<Url>& urls;  // every argument that does not start with "--"
    RequestFlags& request;   // --header, --subprotocol, --deflate, --ca, --client-backend
    std::string& json;       // --json FILE
};
// Walks a tool's command line: --help prints `usage` (a printf format taking kRequestUsage) and exits; a URL is
// parsed into common.urls; "--flag" alone goes to take_switch, which returns whether it knew the flag; "--flag
// value" goes to the request flags, --json, or take_value, which returns whether its value was acceptable (false
// for a flag it does not know). On a bad argument, or no URL, says why on stderr after `tool` and returns false.
bool parse_arguments(const char* tool, const char* usage, int argc, char** argv, const CommonArguments& common,
                     const std::function<bool(std::string_view flag)>& take_switch,
                     const std::function<bool(std::string_view flag, std::string_view value)>& take_value);
// "15s", "1.2 ms", "830 us", "95 ns": a duration in nanoseconds, in the unit that reads best.
std::string format_ns(std::uint64_t ns);
// "12.3k", "1.05M": a rate or count for status lines.
std::string format_si(double value);

// Minimal JSON output for the reports: flat objects, numbers and strings.
class JsonWriter {
public:
    explicit JsonWriter(std::FILE* out) : out_(out) {}
    void begin_object(std::string_view key = {});
    void end_object();
    void begin_array(std::string_view key);
    void end_array();
    void number(std::string_view key, double value);
    void integer(std::string_view key, std::uint64_t value);
    void string(std::string_view key, std::string_view value);
    void element(std::string_view value);  // a string inside an array

private:
    void separate(std::string_view key);
    void quoted(std::string_view text);
    std::FILE* out_;
    bool first_ = true;
    int depth_ = 0;
};

}  // namespace surge::loadgen
