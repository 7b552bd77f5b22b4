// surge::Client: WebSocket client connections to ws:// and wss:// URLs, many on one thread, through surge's own
// codec in the client role (client_handshake.hpp, frame_decoder.hpp, masked frames), with TLS (net/tls.hpp) and
// permessage-deflate (deflate.hpp). Layer: ws. surge-load and surge-stress are built on it.
// It runs its own epoll loop (poll()), independent of the server's reactors, so that a load tool measures the
// server and not a shared loop. Every call must come from the thread that calls poll(); callbacks run inside
// poll() (and inside connect()/close() for failures that happen at once). Connections are numbered by the caller
// (0..n-1, dense). on_message gets each whole message: the bytes themselves when they are at hand (a message in
// one read, a compressed one after inflation, or any with ClientOptions::whole_messages), otherwise only its size
// and first bytes (at least 16, where the load tools' send stamp lives), so that a load generator never gathers
// what it does not read. Sending copies the payload once, masking (and encrypting) it into reused scratch space;
// bytes the socket does not take wait in the connection's queue, bounded by max_pending_bytes.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fast_rng.hpp"
#include "net/tls.hpp"
#include "ws/client_handshake.hpp"
#include "ws/deflate.hpp"
#include "ws/frame_decoder.hpp"
#include "ws/url.hpp"

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
    Count
};
std::string_view client_failure_name(ClientFailure failure) noexcept;
ClientFailure client_failure_from_errno(int error) noexcept;

struct ClientOptions {
    std::string subprotocols;   // offered, comma-separated
    std::string extra_headers;  // "Name: value\r\n" lines
    std::uint64_t max_message_bytes = 64ULL << 20;
    std::size_t max_pending_bytes = 4 << 20;  // per connection, before send() answers Backlog
    bool whole_messages = false;  // gather every message, so on_message always gets all of its bytes
    // wss:// connections use this context (net::TlsContext::make_client), which the caller keeps alive.
    const net::TlsContext* tls = nullptr;
    // permessage-deflate: offered when set. By default the client compresses each message alone, so nothing is
    // kept per connection for sending; a window for receiving is kept only if the server keeps its context.
    bool deflate = false;
    DeflateClientWishes deflate_offer{.client_no_context_takeover = true};
    int deflate_level = 6;
    std::size_t deflate_min_bytes = 64;  // shorter messages are sent as they are
};

class ClientHandler {
public:
    virtual void on_open(std::uint32_t id) = 0;
    // A whole data message of `size` bytes: `bytes` is all of it when bytes.size() == size, otherwise its first
    // bytes (at least 16, or all when shorter), see above.
    virtual void on_message(std::uint32_t id, Opcode opcode, std::uint64_t size, std::string_view bytes) = 0;
    // The connection ended without close(): it is gone when this runs.
    virtual void on_failed(std::uint32_t id, ClientFailure why, int detail) = 0;

protected:
    ~ClientHandler() = default;
};

enum class ClientSendResult : std::uint8_t { Sent, Queued, Backlog, NotOpen };

class Client : private FrameSink {
public:
    Client(ClientHandler& handler, ClientOptions options, std::uint64_t seed);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts connecting connection `id` to `url` (ws:// or wss://, which the caller keeps alive until the
    // connection is open), from `source` when not null (an address in 127.0.0.0/8; the port is picked at connect
    // time, IP_BIND_ADDRESS_NO_PORT). False when it failed at once; on_failed has run then.
    bool connect(std::uint32_t id, const Url& url, const sockaddr_in* source = nullptr);
    ClientSendResult send(std::uint32_t id, Opcode opcode, std::string_view payload);
    // Ends a connection without a callback. Abortive: SO_LINGER 0 (an RST, no TIME_WAIT), at once. Otherwise a
    // close frame (1000), and the socket is closed when the server's close frame or EOF arrives.
    void close(std::uint32_t id, bool abortive);
    // Waits up to timeout_ms for events and handles them. Returns how many it handled.
    int poll(int timeout_ms);
    // Fails (Timeout) every connection still connecting or handshaking that started before `started_before`.
    void expire_unopened(std::uint64_t started_before_ns);
    // Connections not yet closed: connecting, handshaking, open or closing.
    std::size_t live() const noexcept { return live_; }
    std::size_t open() const noexcept { return open_; }
    bool is_open(std::uint32_t id) const noexcept;

private:
    enum class State : std::uint8_t { Idle, Connecting, TlsHandshaking, Handshaking, Open, Closing };
    // What permessage-deflate needs for one connection: the agreement, and windows kept between messages (only
    // when the agreement keeps context; otherwise the client's shared ones serve).
    struct ConnectionDeflate {
        DeflateParams params;
        Deflater deflater;
        Inflater inflater;
    };
    struct Connection {
        int fd = -1;
        State state = State::Idle;
        std::uint8_t head_length = 0;  // bytes in `head` of the message being received
        Opcode opcode = Opcode::Binary;
        std::uint64_t started_ns = 0;
        std::uint64_t message_bytes = 0;
        char head[16];
        WebSocketKey key{};
        bool compressed = false;  // the message being received has RSV1
        const Url* url = nullptr;  // the caller's, until the request is written
        FrameDecoder decoder;
        std::unique_ptr<net::TlsSession> tls;
        std::unique_ptr<ConnectionDeflate> deflate;
        std::string message;  // a message being gathered (compressed, or whole_messages)
        std::string in;   // bytes kept between reads: the handshake head, or an incomplete frame header
        std::string out;  // bytes the socket did not take yet
    };

    void on_event(std::uint32_t id, std::uint32_t events);
    void connected(Connection& c, std::uint32_t id);
    void start_handshake(Connection& c, std::uint32_t id);
    // TLS: what the socket gave goes through the session; false when the connection ended.
    bool consume_tls(Connection& c, std::uint32_t id, std::string_view ciphertext);
    bool write_raw(Connection& c, const char* data, std::size_t size);
    bool deliver(Connection& c, std::uint32_t id, std::string_view bytes, std::uint64_t size);
    std::string_view compress(Connection& c, std::string_view payload);
    void read(Connection& c, std::uint32_t id);
    // Hands newly read bytes to the handshake or the decoder. False when the connection ended.
    bool consume(Connection& c, std::uint32_t id, std::string_view bytes);
    bool finish_handshake(Connection& c, std::uint32_t id);
    bool flush(Connection& c);
    bool write(Connection& c, const char* data, std::size_t size);
    void send_control(Connection& c, Opcode opcode, std::string_view payload);
    void fail(std::uint32_t id, ClientFailure why, int detail);
    // Sends a close frame with `code` (the server broke the protocol), then fails the connection.
    void fail_protocol(Connection& c, std::uint32_t id, std::uint16_t code);
    void release(Connection& c);

    bool on_message_begin(Opcode opcode, bool compressed) override;
    bool on_message_data(std::span<char> piece, bool last) override;
    bool on_control(Opcode opcode, std::span<char> payload) override;

    ClientHandler& handler_;
    ClientOptions options_;
    DecoderConfig decoder_config_;
    FastRng rng_;
    int epoll_fd_ = -1;
    std::vector<Connection> connections_;
    std::vector<char> read_buffer_;
    std::vector<char> scratch_;  // one masked frame being written
    std::vector<char> plain_;    // TLS: decrypted bytes of the current read
    std::string request_headers_;  // options_.extra_headers and the permessage-deflate offer
    Deflater shared_deflaters_[kMaxDeflateWindowBits - kMinDeflateWindowBits + 1];
    Inflater shared_inflater_;
    ByteBuffer deflate_out_;
    ByteBuffer inflate_out_;
    std::size_t live_ = 0;
    std::size_t open_ = 0;
    std::uint32_t feeding_ = 0;  // the connection whose bytes the decoder is reading (for the sink callbacks)
};

}  // namespace surge
