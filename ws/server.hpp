// surge::Server: the thread-per-core WebSocket server. Layer: ws.
// One shard per thread, each with its own reactor (net/reactor.hpp), its own SO_REUSEPORT listener, its own
// connection slab, buffer pool and timer wheel; nothing is shared between shards but the routes (read-only
// once run() starts), the broadcast ring and the stop flag. Callbacks run on the connection's shard thread and
// are invoked noexcept: an exception escaping one terminates the process. Routes are added before run();
// stop(), defer(), publish(), subscribers() and stats() are the calls that are safe from any thread (stop()
// from a signal handler too).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

#include "surge/core/result.hpp"
#include "surge/net/address.hpp"
#include "surge/net/reactor.hpp"
#include "surge/ws/broker.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/pubsub.hpp"
#include "surge/ws/token_list.hpp"
#include "surge/ws/websocket.hpp"

namespace surge {

enum class SlowPolicy : std::uint8_t {
    Drop,   // a send or broadcast past max_backpressure_bytes is dropped (SendStatus::Dropped) and counted
    Close,  // the connection is closed with 1008
};


// One shard's counters, read from any thread (each is exact for its shard, the set is not a snapshot).
// The close codes ShardStats::closes counts one by one (RFC 6455 7.4.1); any other code is counted in the last
// slot. 1006 is a connection that ended without a closing handshake.
inline constexpr std::uint16_t kCountedCloseCodes[] = {1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011};
inline constexpr std::size_t kCloseCodeSlots = std::size(kCountedCloseCodes) + 1;
// The statuses ShardStats::requests_refused_by_status counts one by one; any other in the last slot.
inline constexpr int kCountedRefusalStatuses[] = {400, 403, 404, 405, 408, 413, 426, 431, 500, 501, 503};
inline constexpr std::size_t kRefusalStatusSlots = std::size(kCountedRefusalStatuses) + 1;

struct ShardStats {
    std::uint64_t connections = 0;    // open WebSockets
    std::uint64_t connections_opened = 0;  // upgrades completed, in all
    std::uint64_t http_requests = 0;       // requests answered by a plain HTTP route
    std::uint64_t subscriptions = 0;  // (connection, topic) pairs
    std::uint64_t messages_in = 0;    // whole messages received
    std::uint64_t bytes_in = 0;       // their payload bytes
    std::uint64_t messages_out = 0;   // messages sent or broadcast to a connection (queued or written)
    std::uint64_t bytes_out = 0;      // their frame bytes
    std::uint64_t dropped = 0;        // sends and broadcast deliveries dropped for backpressure
    std::uint64_t slow_closed = 0;    // connections closed with 1008 for backpressure (SlowPolicy::Close)
    std::uint64_t pongs_coalesced = 0;  // pings answered by a pong already queued (a peer that does not read)
    std::uint64_t subscriptions_refused = 0;  // subscribe() past the route's max_subscriptions
    std::uint64_t refused_per_address = 0;    // connections refused past max_connections_per_address
    std::uint64_t refused_at_capacity = 0;    // connections refused past max_connections (the process's)
    // Requests the server answered with an error status itself: malformed or too large (400, 413, 431, 501), no
    // route (404, 405), an upgrade refused (400, 403, 426), and the 408s of evicted handshakes.
    std::uint64_t requests_refused = 0;
    std::array<std::uint64_t, kRefusalStatusSlots> requests_refused_by_status{};  // the same, by status
    std::array<std::uint64_t, kCloseCodeSlots> closes{};  // WebSockets ended, by the code on_close reported
    std::uint64_t handshakes = 0;             // connections accepted whose upgrade or request is not done yet
    std::uint64_t handshakes_evicted = 0;     // the oldest of them, ended to make room past max_handshakes_per_shard
    std::uint64_t input_bytes_held = 0;       // bytes of partial requests and frames waiting for the rest
    std::uint64_t ring_lag = 0;       // published messages this shard has not fanned out yet
    std::uint64_t ring_stalls = 0;    // times a publisher found the ring full because of this shard
};

struct Request;

// permessage-deflate (RFC 7692) on a route: off unless enabled. What clients offer is negotiated per connection;
// a client that offers nothing acceptable is served uncompressed. Messages shorter than
// ServerConfig::deflate_min_bytes are sent as they are.
// Memory: with the defaults a connection costs nothing more, idle or busy: the server compresses each message
// alone with a compressor its shard shares (server_no_context_takeover) and asks clients to do the same
// (client_no_context_takeover), so one decompressor per shard serves all. The dedicated options keep a window
// per connection from its first compressed message to its close, for a better ratio on similar messages:
//   dedicated_compressor:   about 2^(server_max_window_bits + 2) + 2^(mem_level + 9) bytes (262 KiB at 15 and 8)
//   dedicated_decompressor: about 2^15 bytes of window + 7 KiB of state (39 KiB)
// A broadcast is compressed once, by the publisher, whatever the options (see Server::publish()).
struct DeflateOptions {
    bool enabled = false;
    bool dedicated_compressor = false;
    bool dedicated_decompressor = false;
    std::uint8_t server_max_window_bits = 15;  // 9..15: the largest window the server compresses with
    std::uint8_t client_max_window_bits = 15;  // 8..15: asked of clients whose offer lets the server choose
    std::uint8_t mem_level = 8;                // 1..9: a dedicated compressor's hash memory
};

// Members default to empty/defaults, so designated initializers may name only what they set.
struct WebSocketBehavior {
    // Runs right before on_open with the upgrade request, for what its URL or headers say (a query string of
    // topics, a token); the request's views are valid during the call only.
    std::function<void(WebSocket&, const Request&)> on_upgrade{};
    std::function<void(WebSocket&)> on_open{};
    std::function<void(WebSocket&, std::string_view message, Opcode opcode)> on_message{};
    // Every open gets exactly one close: `code` is the peer's (1005 when its close frame had none), the code
    // surge sent for a protocol error (1002, 1007, 1009) or a timeout (1001), or 1006 when the connection
    // ended without a close frame.
    std::function<void(WebSocket&, std::uint16_t code, std::string_view reason)> on_close{};
    std::function<void(WebSocket&)> on_drain{};  // the send queue has emptied after Backpressure
    std::function<void(WebSocket&, std::string_view payload)> on_ping{};  // the pong is sent automatically
    std::function<void(WebSocket&, std::string_view payload)> on_pong{};
    // Returns false to refuse the upgrade with 403.
    std::function<bool(const HttpRequest&)> check_origin{};
    // The subprotocols this route speaks, most preferred first (at most 255). The first one the client also
    // offers is agreed: answered in Sec-WebSocket-Protocol and returned by WebSocket::subprotocol(). With none in
    // common, or none listed, the upgrade goes on without a subprotocol.
    std::vector<std::string> subprotocols{};

    std::size_t max_message_bytes = 16 * 1024 * 1024;  // past it: close with 1009
    std::size_t max_backpressure_bytes = 1024 * 1024;  // queued bytes per connection before slow_policy applies
    // Topics one connection may hold at once; past it subscribe() answers TooMany. Each costs the server about
    // 100 bytes plus the name, and a client could otherwise make it hold as many as it asks for.
    std::uint32_t max_subscriptions = 1024;
    SlowPolicy slow_policy = SlowPolicy::Drop;
    // 0: never. At the timeout a ping goes out; at the next, a close. 30 s keeps an idle subscriber alive
    // behind proxies that cut a silent connection at 60 s (nginx's proxy_read_timeout).
    unsigned idle_timeout_seconds = 30;
    DeflateOptions deflate{};
};

// A plain HTTP request on a route: views valid during the handler only.
struct Request {
    const HttpRequest& head;
    std::string_view body;
    // Where the request came from: the client's address and port, or, when the connection comes from one of
    // ServerConfig::trusted_proxies, the client they name in Forwarded / X-Forwarded-For (ws/forwarded.hpp; the
    // port is 0 when they give none). Asked of the kernel when called, so it costs nothing unless used.
    net::Endpoint remote_address() const;
    // What remote_address() needs, set by the server.
    int fd = -1;
    std::span<const net::AddressRange> trusted_proxies{};

    std::string_view method() const noexcept { return head.method; }
    std::string_view path() const noexcept { return head.path(); }
    std::string_view query() const noexcept { return head.query(); }
    std::string_view header(std::string_view name) const noexcept {
        const HttpHeader* h = head.find(name);
        return h ? h->value : std::string_view{};
    }
};

// The answer to a plain HTTP request. The handler sets it; surge writes it after the handler returns, with
// Content-Length and `Connection: close` (plain HTTP routes serve one request per connection).
class Response {
public:
    Response& status(int code) {
        status_ = code;
        return *this;
    }
    Response& header(std::string_view name, std::string_view value);
    void send(std::string_view body) { body_.assign(body); }

    int status_code() const noexcept { return status_; }
    std::size_t body_size() const noexcept { return body_.size(); }
    // Whether the connection stays open after this response, and how that is said: No ("Connection: close"),
    // Implied (HTTP/1.1's default, nothing said) or Said ("Connection: keep-alive", for an HTTP/1.0 client).
    enum class KeepAlive : std::uint8_t { No, Implied, Said };
    // The whole response, as written to the socket.
    std::string serialize(KeepAlive keep_alive = KeepAlive::No) const;

private:
    int status_ = 200;
    std::string headers_;
    std::string body_;
};

using HttpHandler = std::function<void(const Request&, Response&)>;

// One HTTP answer the server wrote, for an access log (ServerConfig::on_access). The views are valid during the
// call only. A request refused before its head could be read has no method or target.
struct AccessRecord {
    net::Endpoint client;     // Request::remote_address(): the peer, or the client trusted proxies named
    std::string_view method;  // "GET", or empty
    std::string_view target;  // the path and query as sent, or empty
    int status = 0;           // 101 for an upgrade, a route's status, or the server's own refusal (4xx, 5xx)
    std::size_t body_bytes = 0;
};

struct ServerConfig {
    std::string address = "0.0.0.0";
    std::uint16_t port = 9001;  // 0: the kernel picks one; listen() tells which
    // listen() fails (address in use) when another process already listens on the port, instead of joining its
    // SO_REUSEPORT group and splitting the clients with it. Processes meant to share a port (--workers) turn
    // it off after checking once for all of them.
    bool exclusive_port = true;
    unsigned threads = 0;       // 0: one per online CPU
    net::Backend backend = net::Backend::Auto;
    // Under load, a shard sleeps until wait_batch completions are pending or wait_batch_us have passed, and
    // then handles them together: one wake-up per batch instead of one per message, for at most wait_batch_us
    // more latency (net::Reactor::set_wait_batch(): exact on io_uring with kernel 6.13 or later, where a shard
    // idle for wait_batch_us still wakes at the first completion at once; on epoll a busy shard sleeps
    // wait_batch_us when less than a batch is ready). For push and fan-in servers, whose clients do not wait on
    // each answer; a client that does (one request, one answer, then the next) waits up to wait_batch_us more per
    // exchange. 1: wake at each completion.
    unsigned wait_batch = 1;
    unsigned wait_batch_us = 200;
    // A request (head and body, or the TLS handshake before it) must arrive whole within this; so must the next
    // one on a keep-alive connection, counted from the last answer (and such a connection counts as a handshake
    // in progress meanwhile, for max_handshakes_per_shard).
    unsigned handshake_timeout_seconds = 10;
    // Connections in the process at once, over its shards; past it a new connection gets 503 and is closed
    // (counted in ShardStats::refused_at_capacity). 0: as many as the descriptor limit allows, less
    // reserved_descriptors.
    std::size_t max_connections = 0;
    // Descriptors the default max_connections leaves to the rest of the process: the listeners, reactors and
    // logs (64 is plenty), plus whatever else it opens (a second server for an admin listener, say).
    std::size_t reserved_descriptors = 64;
    // Slow handshakes per shard: connections accepted whose HTTP request (its body too) or TLS handshake is not
    // done. Past it, each new connection ends the shard's oldest handshake if that one has taken a second or more
    // (408 in plain HTTP, a close under TLS; counted in ShardStats::handshakes_evicted), so clients that hold
    // handshakes open (slowloris) cannot keep others out: a real client's handshake takes a round trip or two.
    // Handshakes younger than a second are never ended for this: a burst of real clients (a reconnect storm) is
    // let in whole, up to max_connections. Each handshake holds what its client has sent, at most
    // max_header_bytes + max_body_bytes, for at most handshake_timeout_seconds. 0: no limit.
    std::uint32_t max_handshakes_per_shard = 4096;
    // Connections from one source address (IP, any port) at once, across the shards; past it a new connection
    // gets 429 and is closed (counted in ShardStats::refused_per_address). 0: no limit. Behind a proxy every
    // client shares its address, so it is off by default here; surge-push turns it on.
    std::uint32_t max_connections_per_address = 0;
    // Proxies (addresses, or CIDR ranges such as "10.0.0.0/8" and "::1") whose Forwarded or X-Forwarded-For
    // headers say who the client is, for Request::remote_address() and WebSocket::remote_address(). Only these:
    // anyone can send the headers. listen() fails on an entry that is not an address or a range. Limits per
    // address (above) still count the connection's own peer.
    std::vector<std::string> trusted_proxies{};
    // Called on the shard's thread after each HTTP answer: every route's response, every upgrade (101) and every
    // refusal the server writes itself (404, 413, 429, ...). Empty: nothing is recorded, and nothing is paid.
    std::function<void(const AccessRecord&)> on_access{};
    std::size_t max_header_bytes = kDefaultMaxHeaderBytes;
    std::size_t max_body_bytes = 8 * 1024;  // POST bodies on plain HTTP routes; past it: 413
    unsigned stop_grace_ms = 3000;  // stop(): how long closing handshakes may take
    // Shard i's thread runs only on CPU (first_cpu + i) modulo the online CPUs. Processes that share the machine
    // (--workers) give each its own first_cpu, or turn pinning off when their shards outnumber the CPUs.
    bool pin_threads = true;
    unsigned first_cpu = 0;
    // Messages published but not yet fanned out by every shard; past it publish() returns Backpressure.
    // Rounded up to a power of two; each slot is 56 bytes.
    std::size_t broadcast_ring_slots = 1024;
    // Each topic's history, for subscribers that resume (ws/pubsub.hpp): at most this many publications per
    // topic, none older than history_seconds, and at most history_max_bytes over every topic (past it a
    // publish makes room in its own topic first). 0 publications: no history, and no resume.
    std::size_t history_per_topic = 1000;
    unsigned history_seconds = 300;
    std::size_t history_max_bytes = 64 * 1024 * 1024;
    // Topics whose offsets the server keeps at once (each costs about 100 bytes and its name). Past it, a
    // publish to a new topic first forgets one that nobody subscribes to and whose history is empty (it starts
    // over in a new epoch if it comes back), or is refused with PublishStatus::TooManyTopics: a flood of new
    // topic names cannot grow the server without bound.
    std::size_t max_topic_logs = 100'000;
    // Several servers (nodes) share topics, offsets and history through a broker (ws/broker.hpp; Redis:
    // ws/redis_broker.hpp). Empty: this server alone numbers and keeps its publications. One broker per server.
    std::shared_ptr<Broker> broker{};
    // permessage-deflate, for the routes that enable it (WebSocketBehavior::deflate) and for broadcasts.
    int deflate_level = 6;               // 1 (fastest) .. 9 (smallest)
    std::size_t deflate_min_bytes = 64;  // shorter messages are not worth compressing: sent as they are
    // TLS (wss:// and https://): with a certificate and key (PEM files; the certificate file may hold the chain),
    // every connection on the port is TLS. ALPN answers http/1.1; sessions resume (tickets, and a session cache
    // for TLS 1.2). listen() fails when the files cannot be used.
    std::string tls_cert_file{};  // {}: designated initializers may leave them out without a warning
    std::string tls_key_file{};
    // Handshake steps a shard runs per loop iteration; the rest wait for the next, after the established
    // connections' traffic, so a flood of new TLS clients cannot starve the connections already open.
    unsigned tls_handshakes_per_iteration = 16;
};

namespace net {
class TlsContext;
}

namespace detail {
class Broadcaster;
struct Admission;
class Shard;
struct Routes;

// How a route's per-connection data lives in a slot; Server::websocket<T>() fills it in.
struct UserDataType {
    std::size_t offset = 0;  // from the start of the slot (websocket_data_offset<T>())
    std::size_t size = 0;
    std::size_t align = 1;
    void (*construct)(void* at) noexcept = nullptr;
    void (*destroy)(void* at) noexcept = nullptr;
};
}  // namespace detail

class Server {
public:
    explicit Server(ServerConfig config = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Routes, before run(). A path matches exactly; one ending in "/*" matches every path under it ("/publish/*"
    // takes "/publish/news"; the longest such prefix wins); "*" matches every path not matched otherwise.
    void websocket(std::string path, WebSocketBehavior behavior) {
        add_websocket(std::move(path), std::move(behavior), {});
    }
    // A WebSocket route whose connections each carry a T inline in their slot (WebSocket::data<T>()). T is
    // value-initialised before on_open and destroyed after on_close, on the connection's thread. Every slot of
    // the server is as large as the largest T of its routes, so keep T small (a few words; point elsewhere for
    // more).
    template <class T>
    void websocket(std::string path, WebSocketBehavior behavior) {  // NOLINT(performance-unnecessary-value-param)
        // (both are moved below; clang-tidy 14 does not see it in a template before it is instantiated)
        static_assert(std::is_nothrow_default_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                      "per-connection data is made and unmade where nothing may throw");
        static_assert(alignof(T) <= 16, "per-connection data is aligned to at most 16 bytes");
        static_assert(sizeof(T) <= 4096, "per-connection data lives in every slot: point to anything larger");
        add_websocket(std::move(path), std::move(behavior),
                      {websocket_data_offset<T>(), sizeof(T), alignof(T),
                       [](void* at) noexcept { ::new (at) T(); },
                       [](void* at) noexcept { static_cast<T*>(at)->~T(); }});
    }
    // A Server-Sent Events route (text/event-stream), for clients that cannot use WebSocket: a GET is answered
    // with the stream's head and the connection stays open, one-way. It is a WebSocket& to the behavior's
    // callbacks, so it subscribes, resumes and is counted like one: on_upgrade(ws, request) runs first (read the
    // query and Last-Event-ID there; SubscribeOptions::since_event) and the head goes out when it returns, with
    // what it sent behind it, so a client that sees the stream open is subscribed; then on_open, and on_close
    // once it ends.
    // Publications reach it as events: `id: <epoch>:<n>` and `data: <the envelope>` (ws/envelope.hpp), so a
    // browser's EventSource that reconnects resumes with no gap. send() writes its bytes as they are (format
    // them as events); idle_timeout_seconds sends a comment line to keep proxies from cutting the stream;
    // on_message, deflate and subprotocols do not apply. Set max_backpressure_bytes and slow_policy as for a
    // WebSocket: a stream nobody reads is closed or dropped the same way.
    void event_stream(std::string path, WebSocketBehavior behavior);
    void get(std::string path, HttpHandler handler);
    void post(std::string path, HttpHandler handler);

    // Opens one listener per shard on the configured address and port; returns the port. run() calls it if
    // it was not called before.
    Result<std::uint16_t> listen();
    // Runs the shards; blocks until stop() and every shard has finished.
    Result<void> run();
    // Closes every WebSocket with 1001 and makes run() return once all are closed or the grace period has
    // passed. Safe from any thread and from a signal handler.
    void stop() noexcept;
    // Runs `fn` on shard `shard` (from its thread, between events). Safe from any thread; returns false if
    // the server is not running.
    bool defer(unsigned shard, std::function<void()> fn);
    // Reads tls_cert_file and tls_key_file again and gives the new certificate and key to connections accepted
    // from then on; those already open keep theirs, so nothing is dropped (SIGHUP in surge-push and surge-echo).
    // Fails, changing nothing, when the server has no certificate or the files cannot be used (logged). Safe from
    // any thread but a signal handler.
    Result<void> reload_tls();

    // Publishes `message` to every subscriber of `topic` on every shard. The frame is encoded once and shared
    // by every subscriber's queue. Safe from any thread while run() runs. When the ring is full, waits up to
    // `wait` for room (never on a shard thread, whose own lag could be the reason), then returns Backpressure.
    // Subscribers past their max_backpressure_bytes get the slow policy, not the message. While any connection
    // has negotiated permessage-deflate, a message of deflate_min_bytes or more is also compressed once, here,
    // with the smallest window any of them agreed to, and every such subscriber gets that frame.
    // The result carries the offset the publication got in its topic (ws/pubsub.hpp), and the publication is
    // kept in the topic's history (history_per_topic, history_seconds, history_max_bytes).
    PublishResult publish(std::string_view topic, std::string_view message, Opcode opcode = Opcode::Binary,
                          std::chrono::milliseconds wait = std::chrono::milliseconds{0}) noexcept;
    // The epoch of this server's offsets (ws/pubsub.hpp): random per run; a topic forgotten and published to
    // again has this with ".<n>" added. Safe from any thread.
    const std::string& epoch() const noexcept;
    // The history every topic keeps, over the process. Safe from any thread.
    HistoryStats history_stats() const noexcept;
    // The broker's counters (ServerConfig::broker), or nothing without one. Safe from any thread.
    std::optional<BrokerStats> broker_stats() const noexcept;
    // Connections subscribed to `topic` now, over every shard (of this node, with a broker). Safe from any thread.
    std::uint64_t subscribers(std::string_view topic) const;
    // Each shard's counters, indexed by shard; empty before run(). Safe from any thread.
    std::vector<ShardStats> stats() const;

    unsigned thread_count() const noexcept { return threads_; }
    // The backend the shards run on, once run() has started them.
    net::Backend backend() const noexcept;

private:
    void add_websocket(std::string path, WebSocketBehavior behavior, detail::UserDataType data,
                       bool event_stream = false);

    ServerConfig config_;
    unsigned threads_;
    std::unique_ptr<detail::Routes> routes_;
    std::unique_ptr<detail::Broadcaster> broadcaster_;
    std::unique_ptr<detail::Admission> admission_;  // made by run(): the limits the shards share
    std::vector<net::AddressRange> trusted_proxies_;  // parsed by listen(), given to admission_ by run()
    std::vector<int> listeners_;
    std::shared_ptr<const net::TlsContext> tls_;  // with a certificate: shared by the shards
    std::mutex reload_lock_;                      // reload_tls() calls, one at a time
    std::vector<std::unique_ptr<detail::Shard>> shards_;  // made by run(), then fixed until it returns
    std::uint16_t port_ = 0;
    std::atomic<bool> running_{false};
    std::atomic<bool> stop_requested_{false};
};

}  // namespace surge
