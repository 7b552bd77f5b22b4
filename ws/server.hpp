// surge::Server: the thread-per-core WebSocket server. Layer: ws.
// One shard per thread, each with its own reactor (net/reactor.hpp), its own SO_REUSEPORT listener, its own
// connection slab, buffer pool and timer wheel; nothing is shared between shards but the routes (read-only
// once run() starts) and the stop flag. Callbacks run on the connection's shard thread and are invoked
// noexcept: an exception escaping one terminates the process. Routes are added before run(); stop() and
// defer() are the calls that are safe from any thread (stop() from a signal handler too).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "net/reactor.hpp"
#include "ws/http_request.hpp"
#include "ws/token_list.hpp"
#include "ws/websocket.hpp"

namespace surge {

enum class SlowPolicy : std::uint8_t {
    Drop,   // a send past max_backpressure_bytes is dropped (SendStatus::Dropped) and counted
    Close,  // the connection is closed with 1008
};

// Members default to empty/defaults, so designated initializers may name only what they set.
struct WebSocketBehavior {
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
    SlowPolicy slow_policy = SlowPolicy::Drop;
    unsigned idle_timeout_seconds = 120;  // 0: never. At the timeout a ping goes out; at the next, a close.
};

// A plain HTTP request on a route: views valid during the handler only.
struct Request {
    const HttpRequest& head;
    std::string_view body;

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
    // The whole response, as written to the socket.
    std::string serialize() const;

private:
    int status_ = 200;
    std::string headers_;
    std::string body_;
};

using HttpHandler = std::function<void(const Request&, Response&)>;

struct ServerConfig {
    std::string address = "0.0.0.0";
    std::uint16_t port = 9001;  // 0: the kernel picks one; listen() tells which
    unsigned threads = 0;       // 0: one per online CPU
    net::Backend backend = net::Backend::Auto;
    unsigned handshake_timeout_seconds = 10;
    std::size_t max_connections = 0;  // per process; 0: as many as the descriptor limit allows
    std::size_t max_header_bytes = kDefaultMaxHeaderBytes;
    std::size_t max_body_bytes = 8 * 1024;  // POST bodies on plain HTTP routes; past it: 413
    unsigned stop_grace_ms = 3000;  // stop(): how long closing handshakes may take
    bool pin_threads = true;
};

namespace detail {
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

    // Routes, before run(). A path of "*" matches every path not matched otherwise.
    void websocket(std::string path, WebSocketBehavior behavior) {
        add_websocket(std::move(path), std::move(behavior), {});
    }
    // A WebSocket route whose connections each carry a T inline in their slot (WebSocket::data<T>()). T is
    // value-initialised before on_open and destroyed after on_close, on the connection's thread. Every slot of
    // the server is as large as the largest T of its routes, so keep T small (a few words; point elsewhere for
    // more).
    template <class T>
    void websocket(std::string path, WebSocketBehavior behavior) {
        static_assert(std::is_nothrow_default_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                      "per-connection data is made and unmade where nothing may throw");
        static_assert(alignof(T) <= 16, "per-connection data is aligned to at most 16 bytes");
        static_assert(sizeof(T) <= 4096, "per-connection data lives in every slot: point to anything larger");
        add_websocket(std::move(path), std::move(behavior),
                      {websocket_data_offset<T>(), sizeof(T), alignof(T),
                       [](void* at) noexcept { ::new (at) T(); },
                       [](void* at) noexcept { static_cast<T*>(at)->~T(); }});
    }
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

    unsigned thread_count() const noexcept { return threads_; }
    // The backend the shards run on, once run() has started them.
    net::Backend backend() const noexcept;

private:
    void add_websocket(std::string path, WebSocketBehavior behavior, detail::UserDataType data);

    ServerConfig config_;
    unsigned threads_;
    std::unique_ptr<detail::Routes> routes_;
    std::vector<int> listeners_;
    std::vector<std::unique_ptr<detail::Shard>> shards_;  // made by run(), then fixed until it returns
    std::uint16_t port_ = 0;
    std::atomic<bool> running_{false};
    std::atomic<bool> stop_requested_{false};
};

}  // namespace surge
