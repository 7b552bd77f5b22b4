// The TLS transport seam: moves a connection's bytes between the socket side (ciphertext) and the protocol side
// (plaintext), so that ws/ reads and writes plaintext only, for the server and the client alike. Layer: net.
// One TlsPump per thread that owns TLS connections (a shard, a Client): it holds the scratch those connections
// share (decrypted records, a small write gathered into one record) and the handshake budget of the current loop
// turn. A connection's session (TlsSession) stays its own; each call names it and a TlsLink, the connection's
// way out: where ciphertext goes (written or queued by the owner) and where plaintext goes. Link callbacks run
// synchronously inside the calls; one that returns false ends the call (the connection ended inside it).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "surge/net/tls.hpp"

namespace surge::net {

// One connection's way out of the pump, made by its owner for the length of a call.
class TlsLink {
public:
    // Ciphertext to send, in order (write it, or queue a copy: the bytes are the session's). False when the
    // connection ended.
    virtual bool send_ciphertext(std::span<const char> bytes) noexcept = 0;
    // Decrypted application bytes, valid during the call (the owner may change them in place, e.g. unmask).
    // False when the connection ended or wants no more now.
    virtual bool on_plaintext(std::span<char> bytes) = 0;
    // The handshake has just completed, before any application bytes: a client writes its request here. False
    // when the connection ended.
    virtual bool on_established() { return true; }

protected:
    ~TlsLink() = default;
};

enum class TlsPumpStatus : std::uint8_t {
    Open,        // everything fed was handled; wait for more ciphertext
    Deferred,    // the handshake waits for the next turn's budget: call resume() then
    PeerClosed,  // close_notify arrived: no more plaintext will come
    Failed,      // a TLS error (a handshake's alert was sent through the link): end the connection
    Ended,       // a link callback returned false
};

class TlsPump {
public:
    // `handshakes_per_turn`: full handshake steps run per loop turn (key exchanges are the expensive part);
    // 0 means no limit.
    explicit TlsPump(unsigned handshakes_per_turn = 0);

    // A new loop turn: the handshake budget is full again.
    void begin_turn() noexcept { budget_ = per_turn_ ? per_turn_ : UINT32_MAX; }

    // Ciphertext that arrived for `session`: advances its handshake (within the turn's budget) and hands every
    // whole record of plaintext to the link, then sends whatever the session has to say (handshake records,
    // tickets, alerts).
    TlsPumpStatus receive(TlsSession& session, std::span<const char> ciphertext, TlsLink& link);
    // Goes on where receive() stopped with Deferred (or starts a client's handshake: its hello).
    TlsPumpStatus resume(TlsSession& session, TlsLink& link);

    // Encrypts plaintext and sends the ciphertext through the link. A small write of several pieces becomes one
    // record (a frame header alone would cost a record of its own). False when it could not be encrypted or the
    // link ended.
    bool send(TlsSession& session, const iovec* iov, int count, TlsLink& link) noexcept;
    // Sends what the session has collected (writes made with TlsSession::write directly, as a fan-out does for
    // many frames before one send). False when the link ended.
    static bool flush(TlsSession& session, TlsLink& link) noexcept;
    // Queues close_notify (once, only after the handshake) and sends it. False when there was nothing to send:
    // no handshake yet, or sent before.
    static bool close_notify(TlsSession& session, TlsLink& link) noexcept;

private:
    TlsPumpStatus pump(TlsSession& session, TlsLink& link);

    unsigned per_turn_;
    std::uint32_t budget_;
    std::unique_ptr<char[]> plain_;     // one record at a time: at most 16 KiB each
    std::unique_ptr<char[]> gathered_;  // one small write, gathered
};

}  // namespace surge::net
