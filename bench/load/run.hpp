// surge-load's run: its options, the counters each client thread keeps, and the phases the main thread sets.
// Shared by the load thread, the HTTP publisher, the report and main (bench/surge_load.cpp). Layer: bench.
#pragma once

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/net/tls.hpp"
#include "tools/loadgen/latency_histogram.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/stamp.hpp"
#include "surge/ws/client.hpp"
#include "surge/ws/url.hpp"

namespace surge::loadgen {

enum class Mode { Echo, Rate, Subscribe, Publish };

struct Options {
    Mode mode = Mode::Echo;
    std::vector<Url> urls;
    std::uint32_t connections = 100;
    bool connections_given = false;
    unsigned threads = 1;
    std::size_t size = 32;
    bool text = false;
    bool keep_alive = false;  // publish over http://: one connection per URL per thread for every POST
    std::uint64_t caught_up = 0;  // subscribe: a connection that has received this many messages has caught up
    std::uint32_t pipeline = 1;  // echo: messages in flight per connection
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
    std::atomic<std::uint64_t> caught_up{0};  // subscribe with --caught-up N: connections that received N messages
    std::atomic<std::uint64_t> caught_up_ns{0};  // ... and when the last of them did, from the run's start
    std::atomic<std::uint64_t> open_now{0};    // connections open at the last loop turn
    std::atomic<bool> ramped{false};           // every connection was tried and none is still handshaking
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(ClientFailure::Count)> failures{};
    std::array<std::atomic<std::uint64_t>, 600> http_status{};  // handshake refusals and POST answers, by status
    LatencyHistogram latency;
};

inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// A numbered stream's publisher id, so that subscribers can tell the streams apart: the low 16 bits of the pid
// keep processes apart, and `local` (taken modulo 65,536) this process's senders. A process publishing over more
// than 65,536 connections would give some streams one id, and its subscribers would count false repeats.
inline std::uint32_t publisher_id(std::uint32_t local) {
    return (static_cast<std::uint32_t>(::getpid()) & 0xffffu) << 16 | (local & 0xffffu);
}

// The run's phases, set by the main thread: threads record latency from the start, and reset their histogram
// when measuring starts, so that status lines show percentiles "so far" in each phase.
enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };
inline std::atomic<int> g_phase{kWarmup};
inline const std::uint64_t g_start_ns = now_ns();  // the run's start (the process's): --caught-up times count from it
inline std::atomic<bool> g_interrupted{false};

inline double seconds_since(std::uint64_t start_ns) { return static_cast<double>(now_ns() - start_ns) / 1e9; }


const char* mode_name(Mode mode);

}  // namespace surge::loadgen
