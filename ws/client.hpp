// surge::Client: WebSocket client connections to ws:// and wss:// URLs, many on one thread, through surge's own
// codec in the client role (client_handshake.hpp, frame_decoder.hpp, masked frames), with TLS (net/tls.hpp) and
// permessage-deflate (deflate.hpp). Layer: ws. surge-load and surge-stress are built on it.
// Its callbacks have the server's shape (ClientBehavior mirrors WebSocketBehavior): on_open(ws),
// on_message(ws, message, opcode), on_close(ws, code, reason) exactly once for every open, where ws is a
// ClientWebSocket& with send() and close() like the server's WebSocket. What only a client has: on_connect_failed
// for a connection that never opened (refused, timed out, upgrade refused, certificate rejected), and
// on_message_head for load generators, which must not gather what they do not read.
// It runs on a reactor of its own (net/reactor.hpp: io_uring or epoll, as ClientOptions::backend says), not on
// the server's, so that a load tool measures the server and not a shared loop. Every call must come from the
// thread that calls poll(); callbacks run inside poll() (and inside connect(), close() and abort() for what
// happens at once). Sending copies the payload once, masking (and encrypting) it into reused scratch space; bytes
// the socket does not take wait in the connection's send queue (core/send_queue.hpp), bounded by
// max_pending_bytes.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/core/cork_buffer.hpp"
#include "surge/core/fast_rng.hpp"
#include "surge/core/send_queue.hpp"
#include "surge/net/reactor.hpp"
#include "surge/net/tls.hpp"
#include "surge/net/tls_pump.hpp"
#include "surge/ws/client_handshake.hpp"
#include "surge/ws/deflate.hpp"
#include "surge/ws/frame_decoder.hpp"
#include "surge/ws/message_reader.hpp"
#include "surge/ws/send_status.hpp"
#include "surge/ws/url.hpp"

namespace surge {

enum class ClientFailure : std::uint8_t {
    Refused,             // ECONNREFUSED
    Timeout,             // no answer in time (connect, handshake, or what the caller waits for)
    Reset,               // ECONNRESET, EPIPE
    AddressUnavailable,  // EADDRNOTAVAIL, EADDRINUSE: source ports ran out
    Descriptors,         // EMFILE, ENFILE
    HandshakeStatus,     // the server answered with a status other than 101 (detail: the status)
    HandshakeInvalid,    // a 101 a client must reject (wrong accept key, ...), or a malformed head
    ClosedByServer,      // a close frame (detail: its code) or EOF (detail: 1006)
    Protocol,            // the server broke RFC 6455 (detail: the close code we sent)
    Backlog,             // a send did not fit the connection's queue (not an end: the message is skipped)
    Tls,                 // the TLS handshake failed (certificate, protocol), or wss:// without a TLS context
    Other,               // any other errno (detail)
    None,                // not a failure: what ClientWebSocket::failure() says while open or after our own close
    Count
};
std::string_view client_failure_name(ClientFailure failure) noexcept;
ClientFailure client_failure_from_errno(int error) noexcept;

struct ClientOptions {
    // The client's reactor: Auto picks io_uring where the kernel allows it, as the server does.
    net::Backend backend = net::Backend::Auto;
    std::string subprotocols{};   // offered, comma-separated ({}: may be left out of designated initializers)
    std::string extra_headers{};  // "Name: value\r\n" lines
    std::uint64_t max_message_bytes = 64ULL << 20;
    std::size_t max_pending_bytes = 4 << 20;  // per connection, before send() answers Dropped
    // After close(), how long the server's answer is awaited before the connection is cut (an RST, on_close(1006)
    // with failure() Timeout). Checked when poll() returns, so it is as fine as the caller's poll interval.
    unsigned close_timeout_ms = 5000;
    // wss:// connections use this context (net::TlsContext::make_client), which the caller keeps alive.
    const net::TlsContext* tls = nullptr;
    // permessage-deflate: offered when set. By default the client compresses each message alone, so nothing is
    // kept per connection for sending; a window for receiving is kept only if the server keeps its context.
    bool deflate = false;
    DeflateClientWishes deflate_offer{.client_no_context_takeover = true};
    int deflate_level = 6;
    std::size_t deflate_min_bytes = 64;  // shorter messages are sent as they are
    // poll() waits for this many completions, for at most wait_batch_us (net::Reactor::set_wait_batch()): for
    // load generators on the machine of the server they measure. 1: wake at the first, as a client should.
    unsigned wait_batch = 1;
    unsigned wait_batch_us = 200;
};

class Client;

// One client connection, as callbacks see it: the client's counterpart of the server's WebSocket. It lives in the
// Client and stays at its address for the Client's lifetime; after its on_close or on_connect_failed has returned,
// its id may be given to a new connection.
class ClientWebSocket {
public:
    ClientWebSocket(const ClientWebSocket&) = delete;
    ClientWebSocket& operator=(const ClientWebSocket&) = delete;

    // Sends one message in one frame (compressed when deflate was agreed and it is at least deflate_min_bytes).
    // Success: the kernel took it whole; Backpressure: the rest is queued, and on_drain tells when the queue has
    // emptied; Dropped: not sent, because the connection is not open or its queue is past max_pending_bytes.
    SendStatus send(std::string_view message, Opcode opcode = Opcode::Binary) noexcept;
    // Starts the closing handshake: a close frame with `code` (and `reason`, cut to 123 bytes). on_close follows,
    // once, with the server's answer, or 1006 if the connection ends without one or the answer does not come within
    // ClientOptions::close_timeout_ms. Before open: as abort().
    void close(std::uint16_t code = close_code::kNormal, std::string_view reason = {}) noexcept;
    // Ends the connection at once with an RST (SO_LINGER 0: no TIME_WAIT on either side). An open connection gets
    // on_close(1006) before this returns; one not yet open ends without a callback.
    void abort() noexcept;

    // The number connect() gave it: dense from 0, for indexing the caller's own per-connection arrays.
    std::uint32_t id() const noexcept { return id_; }
    bool is_open() const noexcept;
    // Bytes queued for sending that the socket has not taken yet.
    std::size_t buffered_amount() const noexcept;
    // The subprotocol the server agreed to (one of ClientOptions::subprotocols), or empty.
    std::string_view subprotocol() const noexcept;
    // What permessage-deflate agreement the connection has, or null without one.
    const DeflateParams* deflate() const noexcept;
    // Why the connection ended, when this side did not end it: ClosedByServer (failure_detail(): the server's close
    // code, or 1006 for EOF), Protocol (the close code we sent), Reset, Timeout, Tls, Other (errno). None while
    // open and after close() or abort().
    ClientFailure failure() const noexcept { return failure_; }
    int failure_detail() const noexcept { return failure_detail_; }

private:
    friend class Client;
    ClientWebSocket() = default;

    Client* client_ = nullptr;
    std::uint32_t id_ = 0;
    ClientFailure failure_ = ClientFailure::None;
    int failure_detail_ = 0;
};

// The client's callbacks: members default to empty, so designated initializers may name only what they set.
struct ClientBehavior {
    std::function<void(ClientWebSocket&)> on_open{};
    // Each whole data message, gathered across frames and inflated when compressed.
    std::function<void(ClientWebSocket&, std::string_view message, Opcode opcode)> on_message{};
    // Every open gets exactly one close: `code` is the server's (1005 when its close frame had none), the code
    // this side sent for a protocol error (1002, 1007, 1009), or 1006 when the connection ended without a close
    // frame (also after abort()). failure() tells whether the server, the network or this side ended it.
    std::function<void(ClientWebSocket&, std::uint16_t code, std::string_view reason)> on_close{};
    // A connection that never opened: it is gone when this runs. `detail`: the HTTP status for HandshakeStatus,
    // errno for socket errors.
    std::function<void(ClientWebSocket&, ClientFailure why, int detail)> on_connect_failed{};
    std::function<void(ClientWebSocket&)> on_drain{};  // the send queue has emptied after Backpressure
    std::function<void(ClientWebSocket&, std::string_view payload)> on_ping{};  // the pong is sent automatically
    std::function<void(ClientWebSocket&, std::string_view payload)> on_pong{};
    // For load generators, instead of on_message: when set, uncompressed messages are not gathered. It gets each
    // message's opcode and size, and `bytes`: all of it when bytes.size() == size (a message that came in one
    // read, or a compressed one after inflation), otherwise its first bytes (at least 32, or all when shorter),
    // where the load tools' send stamp and sequence mark live.
    std::function<void(ClientWebSocket&, Opcode opcode, std::uint64_t size, std::string_view bytes)>
        on_message_head{};
};

class Client final : private net::ReactorHandler {
public:
    // `seed` drives masking keys and handshake nonces (FastRng): 0 takes one from getrandom(), so that keys are not
    // predictable from outside; the load tools pass fixed seeds, for runs that repeat. Throws std::system_error
    // when no reactor of the asked backend can be made (io_uring asked for by name where it is blocked, say).
    Client(ClientBehavior behavior, ClientOptions options, std::uint64_t seed = 0);
    ~Client();  // ends every connection without callbacks
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts connecting to `url` (ws:// or wss://; copied until the request is written), from
    // `source` when not null (an address in 127.0.0.0/8; the port is picked at connect time,
    // IP_BIND_ADDRESS_NO_PORT). The connection gets the lowest free id (an ended connection's id becomes free
    // when poll() returns after its socket is closed). Returns it, or null when it failed at once:
    // on_connect_failed has run then.
    ClientWebSocket* connect(const Url& url, const sockaddr_in* source = nullptr);
    // The connection numbered `id`, or null if no connection ever had that id.
    ClientWebSocket* connection(std::uint32_t id) noexcept;
    // Waits up to timeout_ms for events and handles them. Returns how many it handled. Not from a callback.
    int poll(int timeout_ms);
    // The reactor's backend (io_uring or epoll).
    net::Backend backend() const noexcept { return reactor_->backend(); }
    // Fails (Timeout) every connection still connecting or handshaking that started before `started_before`.
    // Not from a callback.
    void expire_unopened(std::uint64_t started_before_ns);
    // Connections not yet ended: connecting, handshaking, open or closing.
    std::size_t live() const noexcept { return live_; }
    std::size_t open() const noexcept { return open_; }

private:
    friend class ClientWebSocket;
    enum class State : std::uint8_t { Idle, Connecting, TlsHandshaking, Handshaking, Open, Closing };
    // What permessage-deflate needs for one connection: the agreement, and windows kept between messages (only
    // when the agreement keeps context; otherwise the client's shared ones serve).
    struct ConnectionDeflate {
        DeflateParams params;
        Deflater deflater;
        Inflater inflater;
    };
    struct Connection : ClientWebSocket {
        int fd = -1;  // -1 once ended (the reactor closes the socket; see closing_sockets_)
        std::uint32_t generation = 0;  // in the reactor's token: a token of an earlier use of this id is stale
        State state = State::Idle;
        std::uint8_t io_state = 0;  // the reactor's (net::ReactorHandler::io_state)
        bool send_in_flight = false;  // the reactor has a send of `out` under way
        std::uint8_t head_length = 0;  // on_message_head: bytes in `head` of the message being received
        bool drain_owed = false;  // a send answered Backpressure: on_drain when `out` empties
        std::uint64_t started_ns = 0;  // connect(), then close(): for the timeouts
        std::uint64_t message_bytes = 0;  // on_message_head: bytes of the message being received so far
        char head[32];  // the load tools read a stamp and a sequence mark here
        WebSocketKey key{};
        std::unique_ptr<Url> url;  // a copy, until the request is written: the caller's may be a temporary
        FrameDecoder decoder;
        std::unique_ptr<net::TlsSession> tls;
        std::unique_ptr<ConnectionDeflate> deflate;
        std::string subprotocol;
        PartialMessage message;  // a message being gathered (compressed, or not on_message_head); freed in release()
        std::string in;   // bytes kept between reads: the handshake head, or an incomplete frame header
        SendQueue out;  // bytes the socket did not take yet; cleared in release()
    };

    // net::ReactorHandler: the reactor's events for connections named by token (generation, id).
    void on_accept(std::uint64_t, int fd) override;
    void on_connected(std::uint64_t token, int result) override;
    bool on_data(std::uint64_t token, std::span<char> bytes) override;
    void on_recv_end(std::uint64_t token, int result) override;
    void on_sent(std::uint64_t token, int result) override;
    void on_closed(std::uint64_t token) override;
    void on_wake() override {}
    int fd_of(std::uint64_t token) const noexcept override;
    std::uint8_t* io_state(std::uint64_t token) noexcept override;
    Connection* lookup(std::uint64_t token) noexcept;
    static std::uint64_t token_of(const Connection& c) noexcept { return (std::uint64_t{c.generation} << 32) | c.id_; }

    Connection& slot_for_new();
    void connected(Connection& c);
    void start_handshake(Connection& c);
    // TLS: what the socket gave goes through the session (net::TlsPump); false when the connection ended.
    class TlsLinkFor;
    bool consume_tls(Connection& c, std::string_view ciphertext);
    // Acts on what the pump reported: false when the connection ended.
    bool settle_tls(Connection& c, net::TlsPumpStatus status);
    // Bytes for the wire: into the cork when they may wait there, else written (what the socket refuses is queued).
    // False, with errno set, when the socket failed.
    bool write_raw(Connection& c, const char* data, std::size_t size);
    bool write_through(Connection& c, const char* data, std::size_t size);
    // The cork: while a read of a connection is handled (corked_), the small pieces written to it (up to
    // net::kCoalesceBytes each; under TLS as plaintext, so that they make one record) wait, and leave in one write
    // when the read is handled: a client that answers each of several messages in one read (acknowledgements,
    // the next request) makes one system call and one segment, not one per answer. They wait only while nothing
    // of the connection's is queued or in flight, and whatever else writes for it flushes them first, so bytes
    // leave in the order they were written. release() sends what they hold as it stands (an abort drops it).
    bool take_into_cork(CorkBuffer& cork, const Connection& c, const char* data, std::size_t size) noexcept;
    // Encrypts what the plaintext cork holds (under TLS), then writes what the cork holds. False, with errno set,
    // when the socket failed.
    bool flush_cork();
    // Writes what the cork holds, and nothing of the plaintext cork: from inside the TLS pump's own writes.
    bool send_cork();
    std::string_view compress(Connection& c, std::string_view payload);
    // Hands newly read bytes to the handshake or the decoder. False when the connection ended.
    bool consume(Connection& c, std::string_view bytes);
    bool finish_handshake(Connection& c);
    // Hands what waits in `out` to the reactor's send (one in flight per connection).
    void start_send(Connection& c);
    bool write(Connection& c, const char* data, std::size_t size);
    void send_control(Connection& c, Opcode opcode, std::string_view payload);
    SendStatus send(Connection& c, Opcode opcode, std::string_view payload);
    void start_close(Connection& c, std::uint16_t code, std::string_view reason);
    void abort(Connection& c);
    // The connection ended without this side asking: on_connect_failed before open, on_close (with `code` and
    // `reason`) after.
    void fail(Connection& c, ClientFailure why, int detail, std::uint16_t code = close_code::kAbnormal,
              std::string_view reason = {});
    // The connection ended after this side's close() or abort(): on_close.
    void finish(Connection& c, std::uint16_t code, std::string_view reason);
    // Sends a close frame with `code` (the server broke the protocol), then fails the connection.
    void fail_protocol(Connection& c, std::uint16_t code);
    void release(Connection& c);
    void recycle_ended_ids();
    // Cuts closing connections whose server has not answered within close_timeout_ms.
    void expire_closing();

    // The message layer's events for one connection (ws/message_reader.hpp).
    class MessageEventsFor;

    ClientBehavior behavior_;
    ClientOptions options_;
    DecoderConfig decoder_config_;
    FastRng rng_;
    std::unique_ptr<net::Reactor> reactor_;
    std::deque<Connection> connections_;  // by id; a deque, so that handles keep their address as it grows
    // Ids of ended connections. They wait here until poll() or expire_unopened() returns, so that no connect()
    // made inside a callback reuses a connection the code beneath that callback is still handling.
    std::vector<std::uint32_t> ended_ids_;
    std::vector<std::uint32_t> free_ids_;  // a min-heap
    // A socket outlives its connection's id until the reactor reports it closed: what the reactor keeps in
    // flight for it (io_state) and the bytes a send under way may still read stay here, by the old token.
    struct ClosingSocket {
        std::uint8_t io_state = 0;
        SendQueue out;
    };
    std::unordered_map<std::uint64_t, ClosingSocket> closing_sockets_;
    std::vector<std::uint32_t> closing_ids_;  // connections close() started, for close_timeout_ms (may hold stale ids)
    std::vector<char> scratch_;  // one masked frame being written
    Connection* corked_ = nullptr;
    CorkBuffer cork_;
    CorkBuffer plain_cork_;  // wss:// only
    std::unique_ptr<net::TlsPump> tls_pump_;  // with a TLS context: scratch every wss:// connection shares
    std::string request_headers_;  // options_.extra_headers and the permessage-deflate offer
    Deflater shared_deflaters_[kMaxDeflateWindowBits - kMinDeflateWindowBits + 1];
    Inflater shared_inflater_;
    ByteBuffer deflate_out_;
    MessageReader reader_;
    std::size_t live_ = 0;
    std::size_t open_ = 0;
};

}  // namespace surge
