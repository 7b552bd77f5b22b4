// surge-load's WebSocket side: one thread's share of the connections, on its own surge::Client, in the run's
// mode (echo, rate, subscribe, or publish over ws://). Layer: bench.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/load/run.hpp"
#include "tools/loadgen/sequence_check.hpp"

namespace surge::loadgen {

// Drives one thread's share of the WebSocket connections.
class LoadThread {
public:
    LoadThread(const Options& options, unsigned index, ThreadStats& stats)
        : options_(options), index_(index), stats_(stats),
          engine_(behavior(), client_options(options.request, options.tls.get()), 0x5eed0000ULL + index) {
        for (std::uint32_t i = index; i < options.connections; i += options.threads) ++count_;
        sent_at_.assign(count_, 0);
        sequences_.resize(count_);
        if (options.caught_up) received_.assign(count_, 0);
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
        if (options_.mode == Mode::Echo) {
            const std::uint64_t now = now_ns();
            for (std::uint32_t i = 0; i < options_.pipeline; ++i) send_echo(ws, now);
        }
    }

    void on_message(ClientWebSocket& ws, std::uint64_t size, std::string_view head) {
        const std::uint64_t now = now_ns();
        bump(stats_.received);
        bump(stats_.bytes_received, size);
        if (options_.mode == Mode::Echo) {
            std::uint64_t stamp = sent_at_[ws.id()];  // one in flight: when it left; several: in each payload
            if (options_.pipeline == 1 || (read_stamp(head, stamp) && stamp <= now)) {
                stats_.latency.record(now - stamp);
            } else {
                bump(stats_.unstamped);
            }
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
        if (!received_.empty() && ++received_[ws.id()] == options_.caught_up) {
            bump(stats_.caught_up);
            stats_.caught_up_ns.store(now - g_start_ns, std::memory_order_relaxed);
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
        if (options_.pipeline > 1) write_stamp(payload_.data(), now);  // several in flight: each carries its own
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
    std::vector<std::uint64_t> received_;    // --caught-up: messages each connection has received
    std::vector<std::uint32_t> next_number_;  // rate, publish: the number each connection sends next
    SequenceCounts sequence_counts_;
    std::string payload_;
    Opcode opcode_;
};

}  // namespace surge::loadgen
