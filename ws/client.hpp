// The load tools' WebSocket client side: one epoll loop per thread driving many client connections through
// surge's own codec in the client role (ws/client_handshake.hpp, ws/frame_decoder.hpp, masked frames). Layer:
// tools. It is deliberately independent of surge's server reactors, so that what it measures is the server.
// Connections are numbered by the caller (0..n-1, dense); the engine calls back on open, on each whole message
// (its size and first bytes, where a send stamp lives) and when a connection ends other than by close().
// Sending copies the payload once, masking it into a reused scratch buffer: no allocation per message; bytes the
// socket does not take wait in the connection's queue, bounded by max_pending_bytes.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fast_rng.hpp"
#include "ws/client_handshake.hpp"
#include "ws/frame_decoder.hpp"

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
};

class ClientHandler {
public:
    virtual void on_open(std::uint32_t id) = 0;
    // A whole data message: its size and its first bytes (up to 16, where a stamp is).
    virtual void on_message(std::uint32_t id, Opcode opcode, std::uint64_t size, std::string_view head) = 0;
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

    // Starts connecting connection `id` to `address` (Host and request target as given: views the caller keeps
    // alive until the connection is open), from `source` when not null (an address in 127.0.0.0/8; the port is picked at connect time, IP_BIND_ADDRESS_NO_PORT). False when
    // it failed at once; on_failed has run then.
    bool connect(std::uint32_t id, const sockaddr_in& address, std::string_view host, std::string_view target,
                 const sockaddr_in* source = nullptr);
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
    enum class State : std::uint8_t { Idle, Connecting, Handshaking, Open, Closing };
    struct Connection {
        int fd = -1;
        State state = State::Idle;
        std::uint8_t head_length = 0;  // bytes in `head` of the message being received
        Opcode opcode = Opcode::Binary;
        std::uint64_t started_ns = 0;
        std::uint64_t message_bytes = 0;
        char head[16];
        WebSocketKey key{};
        std::string_view host;  // the caller's, until the request is written
        std::string_view target;
        FrameDecoder decoder;
        std::string in;   // bytes kept between reads: the handshake head, or an incomplete frame header
        std::string out;  // bytes the socket did not take yet
    };

    void on_event(std::uint32_t id, std::uint32_t events);
    void start_handshake(Connection& c, std::uint32_t id);
    void read(Connection& c, std::uint32_t id);
    // Hands newly read bytes to the handshake or the decoder. False when the connection ended.
    bool consume(Connection& c, std::uint32_t id, std::string_view bytes);
    bool finish_handshake(Connection& c, std::uint32_t id);
    bool flush(Connection& c);
    bool write(Connection& c, const char* data, std::size_t size);
    void send_control(Connection& c, Opcode opcode, std::string_view payload);
    void fail(std::uint32_t id, ClientFailure why, int detail);
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
    std::size_t live_ = 0;
    std::size_t open_ = 0;
    std::uint32_t feeding_ = 0;  // the connection whose bytes the decoder is reading (for the sink callbacks)
};

}  // namespace surge
