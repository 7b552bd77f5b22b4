// surge-load: the load-test benchmark binary. Drives any RFC 6455 server with many client connections over
// surge's own codec in the client role and reports what the server sustained: messages and bytes per second and
// the latency distribution, as a status line each second and a summary (and --json) at the end.
//
// Modes:
//  echo       closed loop: each connection sends a message and waits for its echo before sending the next.
//  rate       open loop: messages leave at a fixed rate whatever the server does; latency runs from each
//             message's intended send time (carried in its payload), so a stalled server cannot hide its delay
//             behind the sends it held up (coordinated omission).
//  subscribe  connections only receive; latency runs from the send stamp the publisher put in each payload.
//  publish    sends stamped messages at a rate, over WebSocket (ws:// URLs) or as HTTP POST bodies (http://).
// Payloads of 32 bytes or more are also numbered (rate, publish), and every receiver checks the numbers: the
// report counts messages lost on the way, repeated or out of order, and subscribers that got none at all.
#include <pthread.h>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tools/loadgen/latency_histogram.hpp"
#include "ws/client.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/sequence_check.hpp"
#include "tools/loadgen/stamp.hpp"
#include "ws/url.hpp"
#include "ws/http_request.hpp"

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
    "  --threads N          client threads, each with its own reactor (default 1)\n"
    "  --size BYTES         payload size (default 32; rate and publish need at least 16, for the send stamp,\n"
    "                       and number their messages from 32, for the receivers' loss check)\n"
    "  --text               send text frames (default binary; the payload is ASCII either way)\n"
    "  --rate R             rate and publish: messages per second per connection, or 'R/total' for the whole run\n"
    "  --duration S         seconds measured (default 10)\n"
    "  --warmup S           seconds run before measuring, not counted (default 2)\n"
    "  --ramp N             connections opened per second (default 0: as fast as the in-flight cap allows)\n"
    "  --timeout S          a connection not open after S seconds fails (default 10)\n"
    "%s"
    "  --json FILE          also write the report as JSON\n"
    "  --help               this text\n"
    "numbers take k and m suffixes (10k); seconds take ms, s and m (500ms, 2m)\n";

enum class Mode { Echo, Rate, Subscribe, Publish };

struct Options {
    Mode mode = Mode::Echo;
    std::vector<Url> urls;
    std::uint32_t connections = 100;
    bool connections_given = false;
    unsigned threads = 1;
    std::size_t size = 32;
    bool text = false;
    double rate = 0;
    bool rate_total = false;
    double duration = 10;
    double warmup = 2;
    double ramp = 0;
    double timeout = 10;
    RequestFlags request;
    std::unique_ptr<net::TlsContext> tls;  // made when a URL is wss://
    std::string json;
};

// One thread's counters: written by that thread only, read by the main thread for status lines.
struct alignas(64) ThreadStats {
    std::atomic<std::uint64_t> opened{0};
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> unstamped{0};  // received messages with no send stamp (latency unknown)
    std::atomic<std::uint64_t> sequenced{0};  // received messages with a sequence mark; of them:
    std::atomic<std::uint64_t> lost{0};       //   numbers skipped (messages that never arrived)
    std::atomic<std::uint64_t> repeated{0};   //   numbers seen again, or out of order
    std::atomic<std::uint64_t> silent{0};     // subscribe: connections open at the end that got no numbered message
    std::atomic<std::uint64_t> open_now{0};    // connections open at the last loop turn
    std::atomic<bool> ramped{false};           // every connection was tried and none is still handshaking
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(ClientFailure::Count)> failures{};
    std::array<std::atomic<std::uint64_t>, 600> http_status{};  // handshake refusals and POST answers, by status
    LatencyHistogram latency;
};

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// A numbered stream's publisher id, so that subscribers can tell the streams apart: the low 16 bits of the pid
// keep processes apart, and `local` (taken modulo 65,536) this process's senders. A process publishing over more
// than 65,536 connections would give some streams one id, and its subscribers would count false repeats.
std::uint32_t publisher_id(std::uint32_t local) {
    return (static_cast<std::uint32_t>(::getpid()) & 0xffffu) << 16 | (local & 0xffffu);
}

// The run's phases, set by the main thread: threads record latency from the start, and reset their histogram
// when measuring starts, so that status lines show percentiles "so far" in each phase.
enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };
std::atomic<int> g_phase{kWarmup};
std::atomic<bool> g_interrupted{false};

double seconds_since(std::uint64_t start_ns) { return static_cast<double>(now_ns() - start_ns) / 1e9; }

// Drives one thread's share of the WebSocket connections.
class LoadThread {
public:
    LoadThread(const Options& options, unsigned index, ThreadStats& stats)
        : options_(options), index_(index), stats_(stats),
          engine_(behavior(), client_options(options.request, options.tls.get()), 0x5eed0000ULL + index) {
        for (std::uint32_t i = index; i < options.connections; i += options.threads) ++count_;
        sent_at_.assign(count_, 0);
        sequences_.resize(count_);
        next_number_.assign(count_, 0);
        payload_.assign(options.size, 'x');
        opcode_ = options.text ? Opcode::Text : Opcode::Binary;
    }

    void run() {
        const std::uint64_t start = now_ns();
        const double ramp_per_thread = options_.ramp / options_.threads;
        const std::uint64_t timeout_ns = static_cast<std::uint64_t>(options_.timeout * 1e9);
        std::uint64_t next_expiry = start;
        int seen_phase = kWarmup;
        next_due_ = start;
        for (;;) {
            const int phase = g_phase.load(std::memory_order_relaxed);
            if (phase == kStop) break;
            if (phase != seen_phase) {
                seen_phase = phase;
                stats_.latency.reset();
            }
            const std::uint64_t now = now_ns();
            // Ramp: open connections up to the schedule, with at most 256 handshakes in flight per thread.
            std::uint32_t allowed = count_;
            if (ramp_per_thread > 0) {
                allowed = static_cast<std::uint32_t>(std::min<double>(count_, 1 + ramp_per_thread * (now - start) / 1e9));
            }
            while (next_connect_ < allowed && engine_.live() - engine_.open() < 256) connect_next();
            if (now >= next_expiry) {
                engine_.expire_unopened(now - std::min(now, timeout_ns));
                next_expiry = now + 100'000'000;
            }
            stats_.open_now.store(engine_.open(), std::memory_order_relaxed);
            if (next_connect_ == count_ && engine_.live() == engine_.open()) stats_.ramped.store(true);
            int wait_ms = 1;
            if (sends_on_schedule()) wait_ms = send_due(now);
            else if (next_connect_ >= count_) wait_ms = 50;
            engine_.poll(wait_ms);
        }
        if (options_.mode == Mode::Subscribe) {
            std::uint64_t silent = 0;
            for (std::uint32_t id = 0; id < count_; ++id) {
                const ClientWebSocket* ws = engine_.connection(id);
                if (ws && ws->is_open() && sequences_[id].empty()) ++silent;
            }
            stats_.silent.store(silent, std::memory_order_relaxed);
        }
        // Close politely: a close frame each, then wait a little for the answers.
        for (std::uint32_t id = 0; id < count_; ++id) {
            if (ClientWebSocket* ws = engine_.connection(id)) ws->close();
        }
        const std::uint64_t give_up = now_ns() + 1'500'000'000ULL;
        while (engine_.live() > 0 && now_ns() < give_up) engine_.poll(10);
    }

private:
    ClientBehavior behavior() {
        return {
            .on_open = [this](ClientWebSocket& ws) { on_open(ws); },
            .on_close = [this](ClientWebSocket& ws, std::uint16_t, std::string_view) { on_close(ws); },
            .on_connect_failed = [this](ClientWebSocket&, ClientFailure why, int detail) { count_failure(why, detail); },
            .on_message_head = [this](ClientWebSocket& ws, Opcode, std::uint64_t size, std::string_view head) {
                on_message(ws, size, head);
            },
        };
    }

    void on_open(ClientWebSocket& ws) {
        bump(stats_.opened);
        sequences_[ws.id()].reset();
        next_number_[ws.id()] = 0;
        if (options_.mode == Mode::Echo) send_echo(ws, now_ns());
    }

    void on_message(ClientWebSocket& ws, std::uint64_t size, std::string_view head) {
        const std::uint64_t now = now_ns();
        bump(stats_.received);
        bump(stats_.bytes_received, size);
        if (options_.mode == Mode::Echo) {
            stats_.latency.record(now - sent_at_[ws.id()]);
            if (g_phase.load(std::memory_order_relaxed) != kStop) send_echo(ws, now);  // the next leaves now
            return;
        }
        if (options_.mode == Mode::Publish) return;  // an echo server's answers: not what is measured
        std::uint64_t stamp = 0;
        if (read_stamp(head, stamp) && stamp <= now) {
            stats_.latency.record(now - stamp);
        } else {
            bump(stats_.unstamped);
        }
        std::uint32_t publisher = 0, number = 0;
        if (read_sequence(head, publisher, number)) {
            sequences_[ws.id()].see(publisher, number, sequence_counts_);
            stats_.sequenced.store(sequence_counts_.checked, std::memory_order_relaxed);
            stats_.lost.store(sequence_counts_.lost, std::memory_order_relaxed);
            stats_.repeated.store(sequence_counts_.repeated, std::memory_order_relaxed);
        }
    }

    // An end this side did not ask for (the server closed, the connection reset) counts as a failure.
    void on_close(ClientWebSocket& ws) {
        if (ws.failure() != ClientFailure::None) count_failure(ws.failure(), ws.failure_detail());
    }

    void count_failure(ClientFailure why, int detail) {
        bump(stats_.failures[static_cast<std::size_t>(why)]);
        if ((why == ClientFailure::HandshakeStatus) && detail > 0 && detail < 600) bump(stats_.http_status[detail]);
    }

    bool sends_on_schedule() const { return options_.mode == Mode::Rate || options_.mode == Mode::Publish; }

    // Connections are numbered by the engine in connect order; at most count_ are live, so ids stay below it.
    void connect_next() {
        const std::uint32_t global = index_ + next_connect_++ * options_.threads;
        engine_.connect(options_.urls[global % options_.urls.size()]);
    }

    void send_echo(ClientWebSocket& ws, std::uint64_t now) {
        sent_at_[ws.id()] = now;
        count_send(ws, ws.send(payload_, opcode_));
    }

    // True when the message was taken (sent or queued).
    bool count_send(const ClientWebSocket& ws, SendStatus status) {
        if (status != SendStatus::Dropped) {
            bump(stats_.sent);
            bump(stats_.bytes_sent, payload_.size());
            return true;
        }
        if (ws.is_open()) bump(stats_.failures[static_cast<std::size_t>(ClientFailure::Backlog)]);  // queue full
        return false;
    }

    // Open loop: sends every message whose intended time has come, stamped with that time (not the time it
    // actually left), round-robin over the open connections. Returns how long to wait for the next one.
    int send_due(std::uint64_t now) {
        const std::size_t open = engine_.open();
        if (open == 0) {
            next_due_ = now;
            return 1;
        }
        const double per_second = options_.rate_total ? options_.rate / options_.threads
                                                      : options_.rate * static_cast<double>(open);
        const auto interval = static_cast<std::uint64_t>(1e9 / per_second);
        for (int burst = 0; next_due_ <= now && burst < 4096; ++burst) {
            ClientWebSocket* ws = next_open();
            if (!ws) break;
            write_stamp(payload_.data(), next_due_);
            std::uint32_t& number = next_number_[ws->id()];  // each connection is a stream of its own
            if (payload_.size() >= kMarkedBytes) {
                write_sequence(payload_.data(), publisher_id(index_ + ws->id() * options_.threads), number);
            }
            if (count_send(*ws, ws->send(payload_, opcode_))) ++number;  // a dropped message keeps its number
            next_due_ += interval;
        }
        if (next_due_ <= now) return 0;
        const std::uint64_t wait = (next_due_ - now) / 1'000'000;
        return static_cast<int>(std::min<std::uint64_t>(wait, 50));
    }

    // Round-robin over the open connections.
    ClientWebSocket* next_open() {
        for (std::size_t tries = 0; tries < count_; ++tries) {
            ClientWebSocket* ws = engine_.connection(next_sender_);
            next_sender_ = (next_sender_ + 1) % count_;
            if (ws && ws->is_open()) return ws;
        }
        return nullptr;
    }

    const Options& options_;
    unsigned index_;
    ThreadStats& stats_;
    Client engine_;
    std::uint32_t count_ = 0;         // connections this thread owns
    std::uint32_t next_connect_ = 0;  // the next of them to open
    std::uint32_t next_sender_ = 0;
    std::uint64_t next_due_ = 0;
    std::vector<std::uint64_t> sent_at_;  // echo: when each connection's message in flight left
    std::vector<SequenceCheck> sequences_;   // what each connection received of each numbered stream
    std::vector<std::uint32_t> next_number_;  // rate, publish: the number each connection sends next
    SequenceCounts sequence_counts_;
    std::string payload_;
    Opcode opcode_;
};

// Publishing over HTTP: one POST per message, each on its own connection (the plainest thing every server
// accepts), on the open-loop schedule; latency is the POST's, from its intended time.
class HttpPublisher {
public:
    HttpPublisher(const Options& options, unsigned index, ThreadStats& stats)
        : options_(options), index_(index), stats_(stats) {
        for (const Url& url : options.urls) {
            // The whole request, built once: only the stamp at the start of the body changes per POST.
            requests_.push_back("POST " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                                "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                                std::to_string(options.size) + "\r\n" + options.request.headers + "\r\n" +
                                std::string(options.size, 'x'));
        }
    }

    void run() {
        stats_.ramped.store(true);
        stats_.open_now.store(1);  // one POST at a time
        const double per_second = options_.rate_total ? options_.rate / options_.threads : options_.rate;
        const auto interval = static_cast<std::uint64_t>(1e9 / per_second);
        std::uint64_t due = now_ns();
        std::uint64_t n = 0;
        int seen_phase = kWarmup;
        while (g_phase.load(std::memory_order_relaxed) != kStop) {
            if (const int phase = g_phase.load(std::memory_order_relaxed); phase != seen_phase) {
                seen_phase = phase;
                stats_.latency.reset();
            }
            const std::uint64_t now = now_ns();
            if (now < due) {
                ::usleep(static_cast<useconds_t>(std::min<std::uint64_t>((due - now) / 1000, 50'000)));
                continue;
            }
            const std::size_t which = (index_ + n++ * options_.threads) % options_.urls.size();
            post(options_.urls[which], requests_[which], due);
            due += interval;
        }
    }

private:
    void post(const Url& url, std::string& request, std::uint64_t intended) {
        char* body = request.data() + request.size() - options_.size;
        write_stamp(body, intended);
        // One stream per thread, whatever the URL: its POSTs are published one after another.
        if (options_.size >= kMarkedBytes) write_sequence(body, publisher_id(index_), number_);
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval limit{static_cast<time_t>(options_.timeout), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        const auto failed = [&](ClientFailure why) {
            bump(stats_.failures[static_cast<std::size_t>(why)]);
            ::close(fd);
        };
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&url.address), sizeof url.address) != 0) {
            return failed(client_failure_from_errno(errno));
        }
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
            return failed(client_failure_from_errno(errno));
        }
        std::string answer;
        char buffer[4096];
        HttpResponseParser parser;
        HttpResponse response;
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) return failed(n == 0 ? ClientFailure::ClosedByServer : client_failure_from_errno(errno));
            answer.append(buffer, static_cast<std::size_t>(n));
            const ParseResult r = parser.parse(answer, response);
            if (r.status == ParseStatus::Error) return failed(ClientFailure::HandshakeInvalid);
            if (r.status == ParseStatus::Complete) break;
        }
        ::close(fd);
        if (response.status < 200 || response.status > 299) {
            bump(stats_.failures[static_cast<std::size_t>(ClientFailure::HandshakeStatus)]);
            if (response.status < 600) bump(stats_.http_status[response.status]);
            return;
        }
        stats_.latency.record(now_ns() - intended);
        ++number_;  // a refused or failed POST published nothing: its number is used again
        bump(stats_.sent);
        bump(stats_.bytes_sent, options_.size);
        bump(stats_.opened);
    }

    const Options& options_;
    unsigned index_;
    ThreadStats& stats_;
    std::vector<std::string> requests_;  // one per URL
    std::uint32_t number_ = 0;           // the next message's sequence number
};

// Sums of every thread's counters at one moment.
struct Totals {
    std::uint64_t open_now = 0;
    bool ramped = true;
    std::uint64_t opened = 0, sent = 0, received = 0, bytes_sent = 0, bytes_received = 0, unstamped = 0;
    std::uint64_t sequenced = 0, lost = 0, repeated = 0, silent = 0;
    std::uint64_t failures = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(ClientFailure::Count)> by_kind{};
    std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
};

Totals sum(const std::vector<std::unique_ptr<ThreadStats>>& stats) {
    Totals t;
    for (const auto& s : stats) {
        t.open_now += s->open_now.load(std::memory_order_relaxed);
        t.ramped = t.ramped && s->ramped.load();
        t.opened += s->opened.load(std::memory_order_relaxed);
        t.sent += s->sent.load(std::memory_order_relaxed);
        t.received += s->received.load(std::memory_order_relaxed);
        t.bytes_sent += s->bytes_sent.load(std::memory_order_relaxed);
        t.bytes_received += s->bytes_received.load(std::memory_order_relaxed);
        t.unstamped += s->unstamped.load(std::memory_order_relaxed);
        t.sequenced += s->sequenced.load(std::memory_order_relaxed);
        t.lost += s->lost.load(std::memory_order_relaxed);
        t.repeated += s->repeated.load(std::memory_order_relaxed);
        t.silent += s->silent.load(std::memory_order_relaxed);
        for (std::size_t k = 0; k < t.by_kind.size(); ++k) {
            const std::uint64_t n = s->failures[k].load(std::memory_order_relaxed);
            t.by_kind[k] += n;
            t.failures += n;
        }
        t.latency->add(s->latency);
    }
    return t;
}

bool parse_options(int argc, char** argv, Options& o) {
    auto take_switch = [&](std::string_view flag) {
        if (flag != "--text") return false;
        o.text = true;
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
    if (http && !o.connections_given) o.connections = o.threads;
    if (o.threads > o.connections) o.threads = o.connections;
    return true;
}

const char* mode_name(Mode mode) {
    switch (mode) {
    case Mode::Echo: return "echo";
    case Mode::Rate: return "rate";
    case Mode::Subscribe: return "subscribe";
    case Mode::Publish: return "publish";
    }
    return "?";
}

// Per-second rates over the measured window.
struct Rates {
    double received = 0, sent = 0, bytes_received = 0, bytes_sent = 0;
};

void write_json(const Options& o, const Totals& end, double window, const Rates& rates,
                const std::vector<std::unique_ptr<ThreadStats>>& stats) {
    std::FILE* f = std::fopen(o.json.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "surge-load: cannot write %s: %s\n", o.json.c_str(), std::strerror(errno));
        return;
    }
    JsonWriter j(f);
    j.begin_object();
    j.string("mode", mode_name(o.mode));
    j.begin_array("urls");
    for (const Url& url : o.urls) j.element(url.text());
    j.end_array();
    j.integer("connections", o.connections);
    j.integer("threads", o.threads);
    j.integer("size", o.size);
    j.number("rate", o.rate);
    j.string("rate_per", o.rate_total ? "total" : "connection");
    j.number("warmup_seconds", o.warmup);
    j.number("duration_seconds", window);
    j.integer("connections_opened", end.opened);
    j.integer("messages_sent", end.sent);
    j.integer("messages_received", end.received);
    j.integer("messages_unstamped", end.unstamped);
    j.number("messages_per_second", rates.received);
    j.number("sent_per_second", rates.sent);
    j.number("bytes_per_second", rates.bytes_received);
    j.number("bytes_sent_per_second", rates.bytes_sent);
    j.begin_object("latency_us");
    const LatencyHistogram& h = *end.latency;
    j.integer("samples", h.count());
    for (const auto& [name, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99_9", 99.9}}) {
        j.number(name, static_cast<double>(h.percentile(p)) / 1e3);
    }
    j.number("max", static_cast<double>(h.max()) / 1e3);
    j.end_object();
    // Over the whole run, warm-up and stop included (so `checked` may pass messages_received, which ends with
    // the measured window): a message lost outside the window is lost all the same.
    j.begin_object("sequence");
    j.integer("checked", end.sequenced);
    j.integer("lost", end.lost);
    j.integer("repeated", end.repeated);
    j.integer("silent_connections", end.silent);
    j.end_object();
    j.begin_object("errors");
    for (std::size_t k = 0; k < end.by_kind.size(); ++k) {
        const auto kind = static_cast<ClientFailure>(k);
        if (kind != ClientFailure::None) j.integer(client_failure_name(kind), end.by_kind[k]);
    }
    j.end_object();
    j.begin_object("http_status");
    for (std::size_t status = 100; status < 600; ++status) {
        std::uint64_t n = 0;
        for (const auto& s : stats) n += s->http_status[status].load(std::memory_order_relaxed);
        if (n) j.integer(std::to_string(status), n);
    }
    j.end_object();
    j.end_object();
    std::fclose(f);
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
