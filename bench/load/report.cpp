#include "bench/load/report.hpp"

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace surge::loadgen {

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
        t.caught_up += s->caught_up.load(std::memory_order_relaxed);
        t.caught_up_ns = std::max(t.caught_up_ns, s->caught_up_ns.load(std::memory_order_relaxed));
        for (std::size_t k = 0; k < t.by_kind.size(); ++k) {
            const std::uint64_t n = s->failures[k].load(std::memory_order_relaxed);
            t.by_kind[k] += n;
            t.failures += n;
        }
        t.latency->add(s->latency);
    }
    return t;
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
    j.integer("pipeline", o.pipeline);
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
    if (o.caught_up) {  // subscribe --caught-up N: how many connections got N messages, and when the last did
        j.begin_object("caught_up");
        j.integer("messages", o.caught_up);
        j.integer("connections", end.caught_up);
        j.number("last_seconds", static_cast<double>(end.caught_up_ns) / 1e9);
        j.end_object();
    }
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

}  // namespace surge::loadgen
