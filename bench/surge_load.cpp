// surge-load: the load-test benchmark binary. Drives any RFC 6455 server with many client connections over
// surge's own codec in the client role and reports what the server sustained: messages and bytes per second and
// the latency distribution, as a status line each second and a summary (and --json) at the end.
//
// Modes:
//  echo       closed loop: each connection sends a message and waits for its echo before sending the next
//             (with --pipeline N, keeps N in flight: a client that sends without waiting for each answer).
//  rate       open loop: messages leave at a fixed rate whatever the server does; latency runs from each
//             message's intended send time (carried in its payload), so a stalled server cannot hide its delay
//             behind the sends it held up (coordinated omission).
//  subscribe  connections only receive; latency runs from the send stamp the publisher put in each payload.
//  publish    sends stamped messages at a rate, over WebSocket (ws:// URLs) or as HTTP POST bodies (http://).
// Payloads of 32 bytes or more are also numbered (rate, publish), and every receiver checks the numbers: the
// report counts messages lost on the way, repeated or out of order, and subscribers that got none at all.
// The parts: bench/load/run.hpp (options, counters, phases), load_thread.hpp (the WebSocket connections),
// http_publisher.hpp (publish over http://), report.{hpp,cpp} (sums and JSON); this file parses and runs.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/load/http_publisher.hpp"
#include "bench/load/load_thread.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run.hpp"

namespace {

using namespace surge;
using namespace surge::loadgen;

const char* kUsage =  // a printf format: %s takes kRequestUsage
    "usage: surge-load [options] URL...\n"
    "  URL                  ws://host:port/path (several: connections are spread over them); publish mode also\n"
    "                       takes http://host:port/path, and POSTs each message there\n"
    "  --mode M             echo | rate | subscribe | publish (default echo)\n"
    "  --connections N      connections in all (default 100). Publishing over HTTP makes one connection per\n"
    "                       POST, one POST at a time per thread: --threads sets how many run at once\n"
    "  --keep-alive         publishing over HTTP: each thread keeps one connection per URL open (HTTP/1.1\n"
    "                       keep-alive) for all its POSTs instead of one per POST\n"
    "  --threads N          client threads, each with its own reactor (default 1)\n"
    "  --size BYTES         payload size (default 32; rate and publish need at least 16, for the send stamp,\n"
    "                       and number their messages from 32, for the receivers' loss check)\n"
    "  --text               send text frames (default binary; the payload is ASCII either way)\n"
    "  --rate R             rate and publish: messages per second per connection, or 'R/total' for the whole run\n"
    "  --pipeline N         echo: messages each connection keeps in flight (default 1); from 2 on, latency runs\n"
    "                       from the send stamp each payload carries (--size 16 or more)\n"
    "  --duration S         seconds measured (default 10)\n"
    "  --warmup S           seconds run before measuring, not counted (default 2)\n"
    "  --ramp N             connections opened per second (default 0: as fast as the in-flight cap allows)\n"
    "  --timeout S          a connection not open after S seconds fails (default 10)\n"
    "  --caught-up N        subscribe: report when every connection had received N messages (a resume storm:\n"
    "                       the history it was owed and the first live one), from the start of the run\n"
    "%s"
    "  --json FILE          also write the report as JSON\n"
    "  --help               this text\n"
    "numbers take k and m suffixes (10k); seconds take ms, s and m (500ms, 2m)\n";

bool parse_options(int argc, char** argv, Options& o) {
    auto take_switch = [&](std::string_view flag) {
        if (flag == "--text") o.text = true;
        else if (flag == "--keep-alive") o.keep_alive = true;
        else return false;
        return true;
    };
    auto take_value = [&](std::string_view flag, std::string_view value) {
        double number = 0;
        bool ok = true;
        if (flag == "--mode") {
            if (value == "echo") o.mode = Mode::Echo;
            else if (value == "rate") o.mode = Mode::Rate;
            else if (value == "subscribe") o.mode = Mode::Subscribe;
            else if (value == "publish") o.mode = Mode::Publish;
            else ok = false;
        } else if (flag == "--connections") {
            ok = parse_count(value, number) && number >= 1 && number <= 10e6;
            o.connections = static_cast<std::uint32_t>(number);
            o.connections_given = true;
        } else if (flag == "--threads") {
            ok = parse_count(value, number) && number >= 1 && number <= 256;
            o.threads = static_cast<unsigned>(number);
        } else if (flag == "--size") {
            ok = parse_count(value, number) && number <= (1 << 30);
            o.size = static_cast<std::size_t>(number);
        } else if (flag == "--rate") {
            std::string_view r = value;
            if (r.ends_with("/total")) {
                o.rate_total = true;
                r.remove_suffix(6);
            } else if (r.ends_with("/connection")) {
                r.remove_suffix(11);
            }
            ok = parse_count(r, o.rate) && o.rate > 0;
        } else if (flag == "--duration") {
            ok = parse_seconds(value, o.duration) && o.duration > 0;
        } else if (flag == "--warmup") {
            ok = parse_seconds(value, o.warmup);
        } else if (flag == "--ramp") {
            ok = parse_count(value, o.ramp);
        } else if (flag == "--pipeline") {
            ok = parse_count(value, number) && number >= 1 && number <= 4096;
            o.pipeline = static_cast<std::uint32_t>(number);
        } else if (flag == "--caught-up") {
            ok = parse_count(value, number) && number >= 1;
            o.caught_up = static_cast<std::uint64_t>(number);
        } else if (flag == "--timeout") {
            ok = parse_seconds(value, o.timeout) && o.timeout >= 0.1;
        } else {
            ok = false;
        }
        return ok;
    };
    if (!parse_arguments("surge-load", kUsage, argc, argv, {o.urls, o.request, o.json}, take_switch, take_value)) {
        return false;
    }
    const bool http = std::any_of(o.urls.begin(), o.urls.end(), [](const Url& u) { return !u.websocket(); });
    const bool ws = std::any_of(o.urls.begin(), o.urls.end(), [](const Url& u) { return u.websocket(); });
    if (http && (o.mode != Mode::Publish || ws)) {
        std::fprintf(stderr, "surge-load: http:// URLs are for publish mode only, and not mixed with ws://\n");
        return false;
    }
    if (o.keep_alive && !http) {
        std::fprintf(stderr, "surge-load: --keep-alive is for publishing over http:// URLs\n");
        return false;
    }
    if (std::any_of(o.urls.begin(), o.urls.end(), [](const Url& u) { return u.scheme == Url::Scheme::Https; })) {
        std::fprintf(stderr, "surge-load: publish mode posts over plain http:// only\n");
        return false;
    }
    if (!make_client_tls("surge-load", o.urls, o.request, o.tls)) return false;
    const bool scheduled = o.mode == Mode::Rate || o.mode == Mode::Publish;
    if (scheduled && o.rate <= 0) {
        std::fprintf(stderr, "surge-load: %s mode needs --rate\n", o.mode == Mode::Rate ? "rate" : "publish");
        return false;
    }
    if (scheduled && o.size < kStampBytes) {
        std::fprintf(stderr, "surge-load: --size must be at least %zu to carry the send stamp\n", kStampBytes);
        return false;
    }
    if (o.pipeline > 1 && o.mode != Mode::Echo) {
        std::fprintf(stderr, "surge-load: --pipeline is for echo mode (--mode echo)\n");
        return false;
    }
    if (o.pipeline > 1 && o.size < kStampBytes) {
        std::fprintf(stderr, "surge-load: --pipeline needs --size of at least %zu, for each message's send stamp\n",
                     kStampBytes);
        return false;
    }
    if (http && !o.connections_given) o.connections = o.threads;
    if (o.threads > o.connections) o.threads = o.connections;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse_options(argc, argv, options)) return 2;
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGINT, [](int) { g_interrupted.store(true); });

    std::vector<std::unique_ptr<ThreadStats>> stats;
    std::vector<std::thread> threads;
    const bool over_http = !options.urls[0].websocket();
    for (unsigned t = 0; t < options.threads; ++t) stats.push_back(std::make_unique<ThreadStats>());
    for (unsigned t = 0; t < options.threads; ++t) {
        threads.emplace_back([&options, &stats, t, over_http] {
            if (over_http) {
                HttpPublisher(options, t, *stats[t]).run();
            } else {
                auto thread = std::make_unique<LoadThread>(options, t, *stats[t]);
                thread->run();
            }
        });
    }

    std::printf("surge-load: %s mode, %u connections over %u threads to %zu URL(s), %zu-byte messages\n",
                mode_name(options.mode), options.connections, options.threads, options.urls.size(), options.size);
    const std::uint64_t start = now_ns();
    std::uint64_t measure_start = 0;
    Totals at_measure_start;
    Totals last;
    std::uint64_t last_ns = start;
    for (;;) {
        ::usleep(1'000'000 - static_cast<useconds_t>((now_ns() - start) / 1000 % 1'000'000));
        const std::uint64_t now = now_ns();
        Totals t = sum(stats);
        const double dt = static_cast<double>(now - last_ns) / 1e9;
        const bool measuring = measure_start != 0;
        std::printf("[%5.1fs %s] conns %s/%u  sent %s/s  recv %s/s  p50 %s  p99 %s  errors %llu\n",
                    seconds_since(start), measuring ? "measure" : "warmup ", format_si(double(t.open_now)).c_str(),
                    options.connections, format_si(double(t.sent - last.sent) / dt).c_str(),
                    format_si(double(t.received - last.received) / dt).c_str(),
                    format_ns(t.latency->percentile(50)).c_str(), format_ns(t.latency->percentile(99)).c_str(),
                    static_cast<unsigned long long>(t.failures));
        std::fflush(stdout);
        last = std::move(t);
        last_ns = now;
        if (g_interrupted.load()) break;
        // Measuring starts once the warm-up has passed and every connection is open (or has failed).
        if (!measuring && seconds_since(start) >= options.warmup && last.ramped) {
            measure_start = now_ns();
            at_measure_start = sum(stats);
            g_phase.store(kMeasure);
        } else if (measuring && static_cast<double>(now - measure_start) / 1e9 >= options.duration - 0.01) {
            break;
        }
    }
    const std::uint64_t measure_end = now_ns();
    Totals end = sum(stats);
    g_phase.store(kStop);
    for (auto& t : threads) t.join();
    {
        // The loss check covers the whole run, and the threads count silent subscribers once they stop.
        const Totals after = sum(stats);
        end.sequenced = after.sequenced, end.lost = after.lost, end.repeated = after.repeated;
        end.silent = after.silent;
    }

    if (measure_start == 0) {  // interrupted during warmup: report the whole run
        measure_start = start;
        at_measure_start = Totals{};
    }
    const double window = static_cast<double>(measure_end - measure_start) / 1e9;
    const double msgs = static_cast<double>(end.received - at_measure_start.received) / window;
    const double sent_rate = static_cast<double>(end.sent - at_measure_start.sent) / window;
    const double bytes = static_cast<double>(end.bytes_received - at_measure_start.bytes_received) / window;
    const double bytes_sent = static_cast<double>(end.bytes_sent - at_measure_start.bytes_sent) / window;
    const LatencyHistogram& h = *end.latency;
    std::printf("\nsurge-load %s: %.1f s measured, %llu connections opened\n", mode_name(options.mode), window,
                static_cast<unsigned long long>(end.opened));
    std::printf("  messages/s received  %.0f   sent %.0f\n", msgs, sent_rate);
    std::printf("  bytes/s received     %.0f (%.1f MB/s)   sent %.0f (%.1f MB/s)\n", bytes, bytes / 1e6, bytes_sent,
                bytes_sent / 1e6);
    std::printf("  latency (%llu samples)  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                static_cast<unsigned long long>(h.count()), format_ns(h.percentile(50)).c_str(),
                format_ns(h.percentile(90)).c_str(), format_ns(h.percentile(99)).c_str(),
                format_ns(h.percentile(99.9)).c_str(), format_ns(h.max()).c_str());
    std::printf("  errors %llu:", static_cast<unsigned long long>(end.failures));
    for (std::size_t k = 0; k < end.by_kind.size(); ++k) {
        if (end.by_kind[k]) std::printf(" %s=%llu", client_failure_name(static_cast<ClientFailure>(k)).data(),
                                        static_cast<unsigned long long>(end.by_kind[k]));
    }
    if (end.unstamped) std::printf(" (and %llu messages without a send stamp)", static_cast<unsigned long long>(end.unstamped));
    std::printf("\n");
    if (end.sequenced) {
        std::printf("  numbered messages    %llu received: %llu lost, %llu repeated or out of order",
                    static_cast<unsigned long long>(end.sequenced), static_cast<unsigned long long>(end.lost),
                    static_cast<unsigned long long>(end.repeated));
        if (options.mode == Mode::Subscribe) {
            std::printf(", %llu subscribers got none", static_cast<unsigned long long>(end.silent));
        }
        std::printf("\n");
    }
    if (!options.json.empty()) write_json(options, end, window, {msgs, sent_rate, bytes, bytes_sent}, stats);
    return 0;
}
