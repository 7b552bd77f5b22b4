// One shard: a thread's loop and its connections' lifecycle (HTTP request -> upgrade -> frames -> close).
// Layer: ws (private to the server). Everything here runs on the shard's thread, except request_stop(), defer(),
// notify_broadcast() and stats(), which other threads call.
// The shard owns the units that do the work and wires them together: the slab (slab.hpp), the send queue in each
// slot (core/send_queue.hpp), the message layer (ws/message_reader.hpp), the TLS pump (net/tls_pump.hpp), the
// fan-out (fan_out.hpp) beside the topics (topics.hpp). Its own code is split by side: shard.cpp (the loop,
// accepting, timers, closing), shard_intake.cpp (HTTP, upgrade, frames in), shard_output.cpp (sends, the write
// path, the fan-out's writes), shard_tls.cpp (each TLS connection's link to the pump).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "surge/core/byte_buffer.hpp"
#include "surge/core/cork_buffer.hpp"
#include "surge/core/shared_bytes.hpp"
#include "surge/core/timer_wheel.hpp"
#include "surge/net/reactor.hpp"
#include "surge/net/tls.hpp"
#include "surge/net/tls_pump.hpp"
#include "surge/ws/detail/admission.hpp"
#include "surge/ws/detail/broadcaster.hpp"
#include "surge/ws/detail/fan_out.hpp"
#include "surge/ws/detail/routes.hpp"
#include "surge/ws/detail/slab.hpp"
#include "surge/ws/deflate.hpp"
#include "surge/ws/detail/topics.hpp"
#include "surge/ws/server.hpp"

namespace surge::detail {

// What a connection holds beyond its slot, and only once it needs it: its TLS session, and permessage-deflate
// windows kept from message to message (the route's dedicated_compressor or dedicated_decompressor).
struct ConnectionExtras {
    net::TlsSession tls;
    bool waiting_handshake = false;  // in the shard's tls_waiting_: its handshake waits for the next iteration
    Deflater deflater;
    Inflater inflater;
    net::Endpoint forwarded_client;  // set when trusted proxies named a client other than the peer at the upgrade
};

// A shard's counters: written by the shard's thread only (load + store, no locked instruction), read by any.
struct ShardCounters {
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::uint64_t> connections_opened{0};
    std::atomic<std::uint64_t> http_requests{0};
    std::atomic<std::uint64_t> messages_in{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> messages_out{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> slow_closed{0};
    std::atomic<std::uint64_t> pongs_coalesced{0};
    std::atomic<std::uint64_t> subscriptions_refused{0};
    std::atomic<std::uint64_t> refused_per_address{0};
    std::atomic<std::uint64_t> refused_at_capacity{0};
    std::atomic<std::uint64_t> requests_refused{0};
    std::array<std::atomic<std::uint64_t>, kRefusalStatusSlots> requests_refused_by_status{};
    std::array<std::atomic<std::uint64_t>, kCloseCodeSlots> closes{};
    std::atomic<std::uint64_t> handshakes{0};
    std::atomic<std::uint64_t> handshakes_evicted{0};
    std::atomic<std::uint64_t> input_bytes_held{0};
    std::atomic<std::uint64_t> taken_broadcasts{0};  // taken from the ring and not yet fanned out to everyone

    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
};

class Shard final : public net::ReactorHandler, public BroadcastConsumer {
public:
    // `tls`: every connection is TLS with this context (nullptr: none is). `admission`: the server's counts of
    // connections, in all and per source address, shared by its shards.
    Shard(unsigned index, const ServerConfig& config, const Routes& routes, Broadcaster& broadcaster,
          std::shared_ptr<const net::TlsContext> tls, int listener_fd, Admission& admission);
    ~Shard();

    // Makes the reactor; false (with a logged reason) if it cannot be made.
    bool start_reactor();
    // The thread body: runs until stopped and drained.
    void run();
    void request_stop() noexcept;
    void defer(std::function<void()> fn);

    unsigned index() const noexcept { return index_; }
    // The shard whose run() is on this thread: the owner of every WebSocket a callback on this thread can see
    // (handles are used on their shard's thread only, see websocket.hpp). Saves each slot a pointer.
    static Shard& running() noexcept;
    // The shard whose run() is on this thread, or nullptr on any other thread.
    static Shard* current() noexcept;
    std::string_view subprotocol_of(const WebSocket& ws) const noexcept;
    net::Endpoint remote_address_of(const WebSocket& ws) const noexcept;
    // Server::reload_tls(), on this shard's thread: connections accepted from now on use `fresh`.
    void replace_tls(std::shared_ptr<const net::TlsContext> fresh) noexcept { tls_ = std::move(fresh); }
    net::Backend backend() const noexcept { return reactor_ ? reactor_->backend() : net::Backend::Auto; }

    // A publisher put a message in the broadcast ring: drain it soon. Safe from any thread; wakes the reactor
    // only when no wake-up is pending already.
    void notify_broadcast() noexcept override;
    // This shard's counters and ring position. Safe from any thread.
    ShardStats stats() const noexcept;

    // Called by WebSocket.
    SendStatus send(WebSocket& ws, std::string_view message, Opcode opcode) noexcept;
    void close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept;
    SubscribeStatus subscribe(WebSocket& ws, std::string_view topic) noexcept;
    // From a position: history first (staged at once), then the live stream from Joined::live_from on.
    SubscribeResult subscribe(WebSocket& ws, std::string_view topic, const SubscribeOptions& options);
    void set_delivery(WebSocket& ws, Delivery delivery) noexcept;
    bool unsubscribe(WebSocket& ws, std::string_view topic) noexcept;
    bool subscribed(const WebSocket& ws, std::string_view topic) const noexcept;
    PublishResult publish(const WebSocket& ws, std::string_view topic, std::string_view message,
                          Opcode opcode) noexcept;

private:
    // ReactorHandler
    void on_accept(std::uint64_t listener_token, int fd) override;
    bool on_data(std::uint64_t token, std::span<char> bytes) override;
    void on_recv_end(std::uint64_t token, int result) override;
    void on_sent(std::uint64_t token, int result) override;
    void on_closed(std::uint64_t token) override;
    void on_wake() override;
    int fd_of(std::uint64_t token) const noexcept override;
    std::uint8_t* io_state(std::uint64_t token) noexcept override;

    static bool alive(const WebSocket& ws) noexcept { return ws.state_ != WebSocket::State::Closed; }
    WebSocket* lookup(std::uint64_t token) const noexcept { return slab_.lookup(token); }
    static std::uint64_t token_of(const WebSocket& ws) noexcept { return ConnectionSlab::token_of(ws); }
    // Resets what the connection held and gives its slot back to the slab.
    void release_slot(WebSocket& ws) noexcept;

    // Input
    bool on_plaintext(WebSocket& ws, std::span<char> bytes);
    // HTTP: requests until an upgrade, a refusal or an answer that ends the connection; keep-alive connections
    // take one request after another (pipelined ones too).
    bool handle_http(WebSocket& ws, std::span<char> bytes);
    // One request, from `bytes` or from the held block with `bytes` added. `result` is on_data()'s answer;
    // answered_keep_alive: the request, `consumed` bytes of it, was answered and the connection awaits the next.
    struct RequestStep {
        bool answered_keep_alive = false;
        bool result = false;
        std::size_t consumed = 0;
    };
    RequestStep handle_request(WebSocket& ws, std::span<char> bytes);
    bool handle_frames(WebSocket& ws, std::span<char> bytes);
    // Hands frames to the message layer (ws/message_reader.hpp), whose events for `ws` MessageEventsFor
    // carries out; `consumed`: how many bytes it took. False when the connection ended.
    class MessageEventsFor;
    bool feed_decoder(WebSocket& ws, std::span<char> bytes, std::size_t& consumed);
    // Partial input waits in a heap block sized to it (doubling from 1 KiB): a stalled request holds what it
    // sent, not a buffer of the largest request. hold() appends, false past the request limit or without memory.
    bool hold(WebSocket& ws, std::span<const char> bytes);
    void set_held_bytes(WebSocket& ws, std::size_t bytes) noexcept;
    void drop_held(WebSocket& ws) noexcept;
    // `received`: the request and what followed it; `unread`: the rest of the read, when `received` is the held
    // block and could not take all of it.
    bool upgrade(WebSocket& ws, const HttpRequest& request, std::size_t head_bytes, std::span<char> received,
                 std::span<char> unread);
    // WebSocket::remote_address(): a client trusted proxies named at the upgrade is kept (in the connection's
    // extras, so only such connections pay for it); any other is the socket's peer, asked when wanted.
    void remember_forwarded_client(WebSocket& ws, const HttpRequest& request) noexcept;
    // Server::event_stream(): answers the GET with the stream's head and opens the connection, one-way.
    bool start_event_stream(WebSocket& ws, const HttpRequest& request);
    static bool event_stream(const WebSocket& ws) noexcept { return ws.delivery_ & WebSocket::kEventStream; }
    // Runs the route's handler and writes its answer; true when the connection stays open for another request.
    bool answer_http(WebSocket& ws, const HttpRoute& route, const HttpRequest& request, std::string_view body);
    // A client that pipelines requests without reading the answers is cut off here: the answer that finds this
    // much already queued is its last.
    static constexpr std::size_t kMaxPipelinedOutputBytes = 64 * 1024;
    // The server's own answer to a request it will not serve; `request` when its head was read (the access log).
    void refuse(WebSocket& ws, int status, std::string_view reason, const HttpRequest* request = nullptr);
    void record_access(const WebSocket& ws, const HttpRequest* request, int status, std::size_t body_bytes);

    // TLS (net/tls_pump.hpp does the record work): ciphertext in, plaintext to on_plaintext(); plaintext out,
    // ciphertext to write_raw(). TlsLinkFor is one connection's link, made for the length of a call.
    class TlsLinkFor;
    bool on_tls_data(WebSocket& ws, std::span<char> ciphertext);
    // Acts on what the pump reported for `ws`: false when the connection ended.
    bool settle_tls(WebSocket& ws, net::TlsPumpStatus status);
    void run_waiting_handshakes();
    net::TlsSession& session(WebSocket& ws) noexcept { return extras_[ws.index_]->tls; }
    // Encrypts plaintext and writes (or queues) the ciphertext: write_or_queue() under TLS.
    bool write_tls(WebSocket& ws, const iovec* iov, int count) noexcept;
    // Writes (or queues) the ciphertext the session has collected.
    bool flush_tls(WebSocket& ws) noexcept;
    // Sends close_notify before the write side is shut; true when it had to be queued behind other bytes.
    bool send_close_notify(WebSocket& ws) noexcept;

    // Output: plaintext goes through write_or_queue() (encrypted first under TLS), bytes for the wire through
    // write_raw().
    bool write_or_queue(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept;
    bool write_raw(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept;
    // Copies the pieces into `cork` when `ws` is corked_, they are small (net::kCoalesceBytes together) and fit,
    // and nothing of ws's is queued or in flight; false when they must go another way.
    bool take_into_cork(CorkBuffer& cork, const WebSocket& ws, const iovec* iov, int count,
                        std::size_t total) const noexcept;
    // write_raw() past the cork: written now as far as the socket takes it, the rest queued behind a send.
    bool write_through(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept;
    bool queue(WebSocket& ws, const iovec* iov, int count, std::size_t skip) noexcept;
    void start_send(WebSocket& ws) noexcept;
    // Writes what the cork holds for corked_ (the plain way: what the socket refuses is queued), under TLS after
    // encrypting what the plaintext cork holds. False when that ended the connection.
    bool flush_cork() noexcept;
    // Writes what the cork holds, and only that: the plaintext cork stays as it is.
    bool send_cork() noexcept;
    // The fan-out's writes: add_to_batch() gathers what `ws` has pending into the batch, write_batch() hands
    // the batch to the reactor in one call, then takes what each wrote off its queue and sends the rest through
    // the reactor's send.
    void add_to_batch(WebSocket& ws) noexcept;
    void write_batch() noexcept;

    // permessage-deflate
    void agree_deflate(WebSocket& ws, const HttpRequest& request, std::span<char> answer,
                       std::string_view& extensions) noexcept;
    ConnectionExtras* extras(WebSocket& ws) noexcept;
    // `message` compressed for `ws` (a view into deflate_out_), or empty to send it as it is.
    std::string_view compress_for(WebSocket& ws, std::string_view message) noexcept;

    // Broadcast fan-out
    // Takes broadcasts from the ring, serves one turn of the fan-out, and writes what it queued.
    void drain_broadcasts() noexcept;
    // Queues one broadcast for one subscriber (unless it is the sender, or dropped): true when it queued a
    // reference, which the caller counts.
    bool stage_broadcast(WebSocket& ws, const BroadcastItem& item) noexcept;
    // Queues the frame for `ws`: true when it queued a reference (which the caller counts; stage() takes none
    // itself). False when dropped or not open, and under TLS, where the frame is encrypted for `ws` at once.
    bool stage(WebSocket& ws, SharedBytes* bytes, std::string_view frame) noexcept;
    // A publication as `ws` takes it (its delivery, its compression); false when it kept no reference.
    bool stage_item(WebSocket& ws, const BroadcastItem& item) noexcept;
    // Stages what make() returns (the bytes a publication has for no one else: made for this connection), as a
    // shared frame of its own, so staging still writes nothing (the fan-out's contract). Always false: no
    // reference to the publication's bytes is kept.
    template <class Make>
    bool stage_made(WebSocket& ws, Make&& make) noexcept {
        SharedBytes* own = nullptr;
        try {
            const std::string bytes = make();
            own = SharedBytes::make(bytes.size(), 1);
            if (own) std::memcpy(own->data(), bytes.data(), bytes.size());
        } catch (const std::bad_alloc&) {
            own = nullptr;
        }
        if (!own) {
            ShardCounters::add(counters_.dropped, 1);
            return false;
        }
        if (stage(ws, own, {own->data(), own->size()})) own->retain();
        own->release();
        return false;
    }
    // Whether the live stream must skip `item` for `ws` (history gave it); ends the joining when it need not.
    bool skip_joined(WebSocket& ws, const BroadcastItem& item) noexcept;
    void forget_joining(WebSocket& ws, std::string_view topic) noexcept;  // "" for every topic of ws
    // Counts a frame queued for `ws` and lists `ws` for the write at the end of the batch.
    void mark_staged(WebSocket& ws, std::uint64_t bytes, std::uint32_t messages = 1) noexcept;
    // Encrypts the frames gathered for one TLS subscriber in a fan-out turn (tls_gathered_) as one record.
    void seal_gathered_tls() noexcept;
    void flush_staged() noexcept;
    void send_control(WebSocket& ws, Opcode opcode, std::string_view payload) noexcept;
    // Answers a ping, unless a pong already waits in the queue (kPongQueued).
    void send_pong(WebSocket& ws, std::string_view payload) noexcept;
    // The queue has emptied: what it held no longer matters (kPeerEnded, about the peer, stays).
    static void queue_drained(WebSocket& ws) noexcept;

    // Closing. Which path does what:
    //  - close() (the application's): sends the close frame and waits, Closing, for the peer's answer (or the
    //    grace period); on_close runs when the answer comes (notify_close()).
    //  - fail() (a protocol error, a limit, a timeout): sends the close frame if none was sent, runs on_close at
    //    once, then finish_when_flushed().
    //  - finish_when_flushed(): no more input is read; once the queue is written, sends close_notify (TLS),
    //    shuts the write side and lingers for the peer's end of stream (or the grace period), then terminate().
    //  - terminate(): runs on_close (1006) if it has not run, and hands the descriptor to the reactor to close.
    //  - notify_close(): runs on_close exactly once per opened connection, then drops its subscriptions and the
    //    route's data.
    //  - on_closed() (from the reactor, once nothing is in flight) is the only place a slot is freed.
    void fail(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept;
    void finish_when_flushed(WebSocket& ws) noexcept;
    void terminate(WebSocket& ws) noexcept;
    void notify_close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept;
    // Admission. A connection just accepted past a limit gets `status` and the descriptor closes.
    void refuse_accepted(int fd, int status, std::string_view reason) noexcept;
    // Takes `ws` out of the per-address count, if it is in it (before its descriptor closes).
    void uncount_address(WebSocket& ws) noexcept;
    // Handshakes in progress: counted from accept until the upgrade or the answer (end_handshake(), which any
    // path out of the HTTP state calls). At the limit, end_slow_handshake() ends the oldest if it is old enough.
    // A keep-alive connection between requests counts as one too: it keeps the place its accept gave it, and
    // end_slow_handshake() judges it by when its current request began (handshake_started()).
    void begin_handshake(WebSocket& ws);
    void end_handshake(WebSocket& ws) noexcept;
    // When the request a connection in the HTTP state now awaits began (its accept, or its last keep-alive answer).
    std::uint64_t handshake_started(const WebSocket& ws, std::uint64_t queued_tick) const noexcept;
    void end_slow_handshake() noexcept;
    void on_timer(WebSocket& ws) noexcept;
    void arm_timer(WebSocket& ws, unsigned seconds) noexcept;
    void begin_stop() noexcept;

    // The fan-out's writes go to the reactor this many connections at a time (io_uring: one submission each), with
    // room for every piece each may gather.
    static constexpr std::size_t kBatchWrites = 256;
    static constexpr std::size_t kBatchIovecs = 4 * 1024;

    const WebSocketBehavior& behavior(const WebSocket& ws) const noexcept {
        return routes_.websockets[ws.route_].behavior;
    }

    unsigned index_;
    const ServerConfig& config_;
    const Routes& routes_;
    Broadcaster& broadcaster_;
    // The TLS context new connections start with (null: plain TCP). Replaced by replace_tls() on this thread;
    // sessions already running keep the context they began with (OpenSSL counts its references).
    std::shared_ptr<const net::TlsContext> tls_;
    int listener_fd_;
    Admission& admission_;
    // With the per-address limit: each counted connection's address, by slot index (read at close, when the peer
    // may have reset the connection and getpeername() no longer answers).
    std::vector<net::IpAddress> peer_by_slot_;
    std::unique_ptr<net::Reactor> reactor_;
    std::size_t held_limit_;  // the most a partial request may hold: max_header_bytes + max_body_bytes
    std::size_t handshakes_ = 0;  // in progress now (kHandshakeCounted)
    // Their tokens, oldest first, for eviction. Entries of connections that have left the handshake are skipped
    // and dropped when they reach the front, so it holds at most the connections accepted over one handshake
    // timeout.
    struct HandshakeStart {
        std::uint64_t token;
        std::uint64_t tick;  // wheel_.now() at accept
    };
    std::deque<HandshakeStart> handshake_order_;
    TimerWheel wheel_;
    ConnectionSlab slab_;  // slots hold the WebSocket, then room for the largest route data
    bool stopping_ = false;
    long long stop_deadline_ms_ = 0;
    std::atomic<bool> stop_requested_{false};
    alignas(64) std::atomic<bool> broadcast_pending_{false};  // a wake-up for the ring is on its way
    ShardTopics topics_;
    MessageReader reader_;
    // permessage-deflate: what connections without their own windows share, and scratch output.
    Deflater shared_deflaters_[kMaxDeflateWindowBits - kMinDeflateWindowBits + 1];
    Inflater shared_inflater_;
    ByteBuffer deflate_out_;
    std::vector<std::unique_ptr<ConnectionExtras>> extras_;  // by slot index, made on first need
    // TLS: the pump's scratch and handshake budget, and the handshakes that wait for the next turn.
    std::unique_ptr<net::TlsPump> tls_pump_;
    std::vector<std::uint64_t> tls_waiting_;
    std::vector<std::uint64_t> tls_running_;  // tls_waiting_'s contents while they run; swapped, so neither reallocates
    FanOut fan_out_;
    std::vector<WebSocket*> staged_;    // connections with broadcast frames queued but not yet written
    std::vector<WebSocket*> too_slow_;  // past their bound under SlowPolicy::Close: closed after the fan-out
    // Subscriptions that joined while their topic's publications before `live_from` may still be on their way
    // through the ring to this shard: history gave those, so the live stream skips them for this subscriber.
    // Keyed by the connection's slot and the topic (a view of Topic::name, kept while subscribed). Connections
    // with an entry carry WebSocket::kJoining; joining_count_ says how many each has.
    struct JoinKey {
        std::uint32_t index;
        std::string_view topic;
        bool operator==(const JoinKey&) const noexcept = default;
    };
    struct JoinKeyHash {
        std::size_t operator()(const JoinKey& k) const noexcept {
            return std::hash<std::string_view>{}(k.topic) * 31 + k.index;
        }
    };
    std::unordered_map<JoinKey, std::uint64_t, JoinKeyHash> joining_;
    // An event stream's on_upgrade in progress: its topics' history, gathered to go out in event-id order.
    const WebSocket* deferring_history_ = nullptr;
    std::vector<BroadcastItem> deferred_history_;
    // ... and the stream's head with what on_upgrade sends, written once it returns.
    const WebSocket* opening_stream_ = nullptr;
    std::string opening_bytes_;
    std::unordered_map<std::uint32_t, std::uint32_t> joining_count_;
    std::vector<net::BatchedWrite> batch_;  // the fan-out's writes not yet handed to the reactor
    std::vector<WebSocket*> batch_owners_;  // whose each of them is
    // Their pieces (kBatchIovecs, 64 KiB): made with the shard, not at the first fan-out, whose noexcept path
    // has no good answer to an allocation that fails.
    std::unique_ptr<iovec[]> batch_iov_;
    std::size_t batch_iov_used_ = 0;
    // The cork: while a read of a connection is handled (corked_), the small pieces written to it (up to
    // net::kCoalesceBytes each: frames, whose two pieces a write copied together anyway, or under TLS the records
    // of plain_cork_ and of the handshake) collect here and leave in one send() once the read is handled, so
    // several messages in one read are answered with one system call and one segment rather than one each. It
    // holds bytes only while the connection's queue is empty and no send is in flight: whatever else is about to
    // write for the connection (a larger piece, a staged publication, a close, a close_notify) flushes it first,
    // so bytes leave in the order they were written; a pong bypasses it (send_pong()). terminate() drops it.
    // Under TLS the small frames collect as plaintext first (plain_cork_, one record's worth), so that what a read
    // is answered with is encrypted as one record, not one each; flush_cork() encrypts them, and their record
    // takes the same way as any other. Every other write to the session (a larger frame, history, close_notify)
    // flushes both corks first.
    WebSocket* corked_ = nullptr;
    CorkBuffer cork_;
    CorkBuffer plain_cork_;  // used under TLS only
    // Under TLS, during a fan-out turn (gathering_tls_), the frames staged for one subscriber collect here, to be
    // encrypted together once the turn moves on to the next subscriber (seal_gathered_tls()).
    bool gathering_tls_ = false;
    CorkBuffer tls_gathered_;
    WebSocket* tls_gathered_for_ = nullptr;
    std::uint32_t tls_gathered_frames_ = 0;
    alignas(64) ShardCounters counters_;
    std::mutex deferred_mutex_;
    std::vector<std::function<void()>> deferred_;
};

}  // namespace surge::detail
