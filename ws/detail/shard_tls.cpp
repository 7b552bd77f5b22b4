// The shard's TLS connections: each one's link to the TLS pump (net/tls_pump.hpp), deferred handshakes and
// close_notify. Layer: ws (private to the server).
#include "surge/ws/detail/shard.hpp"

#include "surge/ws/detail/connection_state.hpp"

namespace surge::detail {

// One connection as the TLS pump sees it: ciphertext goes out through write_raw(), plaintext in to on_plaintext().
class Shard::TlsLinkFor final : public net::TlsLink {
public:
    TlsLinkFor(Shard& shard, WebSocket& ws) noexcept : shard_(shard), ws_(ws) {}
    bool send_ciphertext(std::span<const char> bytes) noexcept override {
        const iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
        return shard_.write_raw(ws_, &iov, 1, bytes.size());  // written, or copied into the queue
    }
    bool on_plaintext(std::span<char> bytes) override { return shard_.on_plaintext(ws_, bytes) && alive(ws_); }

private:
    Shard& shard_;
    WebSocket& ws_;
};

bool Shard::on_tls_data(WebSocket& ws, std::span<char> ciphertext) {
    TlsLinkFor link(*this, ws);
    return settle_tls(ws, tls_pump_->receive(session(ws), ciphertext, link));
}

bool Shard::settle_tls(WebSocket& ws, net::TlsPumpStatus status) {
    switch (status) {
    case net::TlsPumpStatus::Open: return true;
    case net::TlsPumpStatus::Deferred: {
        // Out of this turn's handshake budget: the next turn goes on.
        ConnectionExtras& own = *extras_[ws.index_];
        if (!own.waiting_handshake) {
            own.waiting_handshake = true;
            tls_waiting_.push_back(token_of(ws));
        }
        return true;
    }
    case net::TlsPumpStatus::PeerClosed:
        // close_notify: nothing more will come; the end of stream that follows closes the connection.
        ws.flags_ |= kInputDone;
        return true;
    case net::TlsPumpStatus::Failed: terminate(ws); return false;
    case net::TlsPumpStatus::Ended: return false;
    }
    return false;
}

void Shard::run_waiting_handshakes() {
    // Handshakes that run out of budget here queue again in tls_waiting_, so the list being walked is apart.
    tls_running_.swap(tls_waiting_);
    for (const std::uint64_t token : tls_running_) {
        WebSocket* ws = lookup(token);  // a stale token: the connection ended while it waited
        if (!ws || !alive(*ws)) continue;
        extras_[ws->index_]->waiting_handshake = false;
        TlsLinkFor link(*this, *ws);
        settle_tls(*ws, tls_pump_->resume(session(*ws), link));
    }
    tls_running_.clear();
}

bool Shard::write_tls(WebSocket& ws, const iovec* iov, int count) noexcept {
    TlsLinkFor link(*this, ws);
    if (tls_pump_->send(session(ws), iov, count, link)) return true;
    terminate(ws);  // could not encrypt (the link's own failures have ended the connection already)
    return false;
}

bool Shard::flush_tls(WebSocket& ws) noexcept {
    TlsLinkFor link(*this, ws);
    return net::TlsPump::flush(session(ws), link);  // the session lives until on_closed(), even when this fails
}

bool Shard::send_close_notify(WebSocket& ws) noexcept {
    if (!tls_) return false;  // under TLS every connection has its session from on_accept() to on_closed()
    TlsLinkFor link(*this, ws);
    if (!net::TlsPump::close_notify(session(ws), link)) return false;
    // The write side is shut right after this unless it says the alert was queued: it may not wait in the cork.
    // Only the alert's record is sent, never plaintext encrypted now, which would come after the alert and be
    // thrown away; the plaintext cork is empty here anyway (the only caller, finish_when_flushed(), flushed it).
    if (&ws == corked_ && !send_cork()) return false;
    return alive(ws) && (!ws.out_.empty() || (ws.flags_ & kSendInFlight));
}

}  // namespace surge::detail
