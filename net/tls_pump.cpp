#include "surge/net/tls_pump.hpp"

#include <cstring>

namespace surge::net {
namespace {
constexpr std::size_t kPlainBytes = 32 * 1024;
constexpr std::size_t kGatherBytes = 16 * 1024;  // one TLS record's worth
}  // namespace

TlsPump::TlsPump(unsigned handshakes_per_turn)
    : per_turn_(handshakes_per_turn),
      budget_(handshakes_per_turn ? handshakes_per_turn : UINT32_MAX),
      plain_(std::make_unique<char[]>(kPlainBytes)),
      gathered_(std::make_unique<char[]>(kGatherBytes)) {}

TlsPumpStatus TlsPump::receive(TlsSession& session, std::span<const char> ciphertext, TlsLink& link) {
    if (!session.feed(ciphertext)) return TlsPumpStatus::Failed;  // out of memory
    return pump(session, link);
}

TlsPumpStatus TlsPump::resume(TlsSession& session, TlsLink& link) { return pump(session, link); }

TlsPumpStatus TlsPump::pump(TlsSession& session, TlsLink& link) {
    if (!session.handshake_done()) {
        if (budget_ == 0) return TlsPumpStatus::Deferred;
        --budget_;
        const TlsStatus status = session.handshake();
        if (!flush(session, link)) return TlsPumpStatus::Ended;  // the handshake's own records, or an alert
        if (status == TlsStatus::WantMore) return TlsPumpStatus::Open;
        if (status != TlsStatus::Ok) return TlsPumpStatus::Failed;
        if (!link.on_established()) return TlsPumpStatus::Ended;
    }
    for (;;) {
        std::size_t n = 0;
        const TlsStatus status = session.read({plain_.get(), kPlainBytes}, n);
        if (status == TlsStatus::Ok) {
            if (!link.on_plaintext({plain_.get(), n})) return TlsPumpStatus::Ended;
            continue;
        }
        if (status == TlsStatus::WantMore) {  // e.g. session tickets after the handshake
            return flush(session, link) ? TlsPumpStatus::Open : TlsPumpStatus::Ended;
        }
        return status == TlsStatus::Closed ? TlsPumpStatus::PeerClosed : TlsPumpStatus::Failed;
    }
}

bool TlsPump::send(TlsSession& session, const iovec* iov, int count, TlsLink& link) noexcept {
    std::size_t total = 0;
    for (int i = 0; i < count; ++i) total += iov[i].iov_len;
    if (count > 1 && total <= kGatherBytes) {
        std::size_t at = 0;
        for (int i = 0; i < count; ++i) {
            if (iov[i].iov_len) std::memcpy(gathered_.get() + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        if (!session.write({gathered_.get(), total})) return false;
    } else {
        for (int i = 0; i < count; ++i) {
            if (!session.write({static_cast<const char*>(iov[i].iov_base), iov[i].iov_len})) return false;
        }
    }
    return flush(session, link);
}

bool TlsPump::flush(TlsSession& session, TlsLink& link) noexcept {
    const std::span<const char> out = session.pending_output();
    if (out.empty()) return true;
    const bool ok = link.send_ciphertext(out);  // written, or copied into the owner's queue
    session.consume_output();
    return ok;
}

bool TlsPump::close_notify(TlsSession& session, TlsLink& link) noexcept {
    if (!session.handshake_done() || session.shutdown_sent()) return false;
    session.shutdown();
    flush(session, link);
    return true;
}

}  // namespace surge::net
