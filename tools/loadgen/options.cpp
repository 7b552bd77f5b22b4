#include "tools/loadgen/options.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include "surge/net/uring_probe.hpp"
#include "surge/core/json_string.hpp"

namespace surge::loadgen {
namespace {

bool parse_scaled(std::string_view text, double& out, std::string_view unit, double scale) {
    if (!unit.empty() && text.ends_with(unit)) {
        text.remove_suffix(unit.size());
    } else if (!unit.empty()) {
        return false;
    }
    const std::string copy(text);
    char* end = nullptr;
    const double value = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(value) || value < 0) return false;
    out = value * scale;
    return true;
}

}  // namespace

bool parse_count(std::string_view text, double& out) noexcept {
    return parse_scaled(text, out, "k", 1e3) || parse_scaled(text, out, "K", 1e3) ||
           parse_scaled(text, out, "m", 1e6) || parse_scaled(text, out, "M", 1e6) || parse_scaled(text, out, "", 1);
}

bool parse_seconds(std::string_view text, double& out) noexcept {
    return parse_scaled(text, out, "ms", 1e-3) || parse_scaled(text, out, "s", 1) ||
           parse_scaled(text, out, "m", 60) || parse_scaled(text, out, "", 1);
}

const char* const kRequestUsage =
    "  --header 'N: V'      an extra request header (repeatable)\n"
    "  --subprotocol P      offer subprotocol P (repeatable)\n"
    "  --deflate on|off     offer permessage-deflate (default off)\n"
    "  --ca FILE            wss://: trust the certificates in FILE instead of the system's store\n"
    "  --client-backend B   the client's reactor: auto (io_uring where the kernel allows it), io_uring, epoll\n";

namespace {

// Takes one of RequestFlags' flags with its value: returns whether `flag` was one of them; `ok` then says whether
// its value was acceptable.
bool take_request_option(std::string_view flag, std::string_view value, RequestFlags& out, bool& ok) {
    if (flag == "--header") {
        ok = value.find(':') != std::string_view::npos && value.find_first_of("\r\n") == std::string_view::npos;
        if (ok) out.headers.append(value).append("\r\n");
        return true;
    }
    if (flag == "--subprotocol") {
        ok = !value.empty() && value.find_first_of(",\r\n") == std::string_view::npos;
        if (!out.subprotocols.empty()) out.subprotocols += ", ";
        out.subprotocols.append(value);
        return true;
    }
    if (flag == "--deflate") {
        ok = value == "on" || value == "off";
        out.deflate = value == "on";
        return true;
    }
    if (flag == "--ca") {
        ok = !value.empty();
        out.ca_file = value;
        return true;
    }
    if (flag == "--client-backend") {
        ok = net::parse_backend(value, out.backend);
        if (ok && out.backend == net::Backend::IoUring && !net::uring_unsupported_reason().empty()) {
            std::fprintf(stderr, "--client-backend io_uring: unavailable here: %s\n",
                         net::uring_unsupported_reason().c_str());
            ok = false;
        }
        return true;
    }
    return false;
}

}  // namespace

bool parse_arguments(const char* tool, const char* usage, int argc, char** argv, const CommonArguments& common,
                     const std::function<bool(std::string_view flag)>& take_switch,
                     const std::function<bool(std::string_view flag, std::string_view value)>& take_value) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::printf(usage, kRequestUsage);
            std::exit(0);
        }
        if (!flag.starts_with("--")) {
            Url url;
            std::string error;
            if (!parse_url(flag, url, error)) {
                std::fprintf(stderr, "%s: %s: %s\n", tool, argv[i], error.c_str());
                return false;
            }
            common.urls.push_back(std::move(url));
            continue;
        }
        if (take_switch(flag)) continue;
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", tool, argv[i]);
            return false;
        }
        const std::string_view value = argv[++i];
        bool ok = true;
        if (take_request_option(flag, value, common.request, ok)) {
        } else if (flag == "--json") {
            common.json = value;
        } else {
            ok = take_value(flag, value);
        }
        if (!ok) {
            std::fprintf(stderr, "%s: bad option %s %s\n", tool, argv[i - 1], argv[i]);
            return false;
        }
    }
    if (common.urls.empty()) {
        std::fprintf(stderr, "%s: no URL\n", tool);
        std::fprintf(stderr, usage, kRequestUsage);
        return false;
    }
    return true;
}

bool make_client_tls(const char* tool, const std::vector<Url>& urls, const RequestFlags& flags,
                     std::unique_ptr<net::TlsContext>& tls) {
    bool any = false;
    for (const Url& url : urls) any = any || url.tls();
    if (!any) return true;
    std::string error;
    tls = net::TlsContext::make_client(true, flags.ca_file, error);
    if (!tls) std::fprintf(stderr, "%s: %s\n", tool, error.c_str());
    return tls != nullptr;
}

ClientOptions client_options(const RequestFlags& flags, const net::TlsContext* tls) {
    ClientOptions options;
    options.subprotocols = flags.subprotocols;
    options.extra_headers = flags.headers;
    options.tls = tls;
    options.deflate = flags.deflate;
    options.backend = flags.backend;
    return options;
}

std::string format_ns(std::uint64_t ns) {
    char text[32];
    const double v = static_cast<double>(ns);
    if (ns >= 1'000'000'000ULL) {
        std::snprintf(text, sizeof text, "%.2f s", v / 1e9);
    } else if (ns >= 1'000'000ULL) {
        std::snprintf(text, sizeof text, "%.2f ms", v / 1e6);
    } else if (ns >= 1'000ULL) {
        std::snprintf(text, sizeof text, "%.1f us", v / 1e3);
    } else {
        std::snprintf(text, sizeof text, "%llu ns", static_cast<unsigned long long>(ns));
    }
    return text;
}

std::string format_si(double value) {
    char text[32];
    if (value >= 1e9) {
        std::snprintf(text, sizeof text, "%.2fG", value / 1e9);
    } else if (value >= 1e6) {
        std::snprintf(text, sizeof text, "%.2fM", value / 1e6);
    } else if (value >= 1e4) {
        std::snprintf(text, sizeof text, "%.1fk", value / 1e3);
    } else {
        std::snprintf(text, sizeof text, "%.0f", value);
    }
    return text;
}

void JsonWriter::separate(std::string_view key) {
    if (!first_) std::fputc(',', out_);
    std::fputc('\n', out_);
    for (int i = 0; i < depth_; ++i) std::fputs("  ", out_);
    first_ = false;
    if (!key.empty()) {
        quoted(key);
        std::fputs(": ", out_);
    }
}

void JsonWriter::quoted(std::string_view text) {
    std::string literal;
    append_json_string(literal, text);
    std::fwrite(literal.data(), 1, literal.size(), out_);
}

void JsonWriter::begin_object(std::string_view key) {
    if (depth_ > 0) separate(key);
    std::fputc('{', out_);
    ++depth_;
    first_ = true;
}

void JsonWriter::end_object() {
    --depth_;
    std::fputc('\n', out_);
    for (int i = 0; i < depth_; ++i) std::fputs("  ", out_);
    std::fputc('}', out_);
    if (depth_ == 0) std::fputc('\n', out_);
    first_ = false;
}

void JsonWriter::begin_array(std::string_view key) {
    separate(key);
    std::fputc('[', out_);
    ++depth_;
    first_ = true;
}

void JsonWriter::end_array() {
    --depth_;
    std::fputc(']', out_);
    first_ = false;
}

void JsonWriter::number(std::string_view key, double value) {
    separate(key);
    if (std::isfinite(value)) {
        std::fprintf(out_, "%.10g", value);
    } else {
        std::fputs("null", out_);
    }
}

void JsonWriter::integer(std::string_view key, std::uint64_t value) {
    separate(key);
    std::fprintf(out_, "%llu", static_cast<unsigned long long>(value));
}

void JsonWriter::string(std::string_view key, std::string_view value) {
    separate(key);
    quoted(value);
}

void JsonWriter::element(std::string_view value) {
    separate({});
    quoted(value);
}

}  // namespace surge::loadgen
