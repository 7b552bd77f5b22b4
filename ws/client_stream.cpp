// surge::Client's byte streams: for one connection, the TLS link, the upgrade request and response, the message
// layer's events (ws/message_reader.hpp), and what goes out (masked frames, compressed when agreed, through the
// send queue and the reactor). Layer: ws. client.cpp keeps the connections' lifecycle and the reactor's events.
#include "surge/ws/client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "surge/net/socket_io.hpp"
#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/frame_header.hpp"

namespace surge {

// One connection as the TLS pump sees it: ciphertext to the socket, plaintext to consume(), and the upgrade
// request once the TLS handshake is done.
class Client::TlsLinkFor final : public net::TlsLink {
public:
    TlsLinkFor(Client& client, Connection& c) noexcept : client_(client), c_(c) {}
    bool send_ciphertext(std::span<const char> bytes) noexcept override {
        return client_.write_raw(c_, bytes.data(), bytes.size());  // false: the caller fails it with errno
    }
    bool on_plaintext(std::span<char> bytes) override { return client_.consume(c_, {bytes.data(), bytes.size()}); }
    bool on_established() override {
        client_.start_handshake(c_);
        return c_.fd >= 0;
    }

private:
    Client& client_;
    Connection& c_;
};

void Client::connected(Connection& c) {
    if (!c.url->tls()) return start_handshake(c);
    c.tls = std::make_unique<net::TlsSession>();
    if (!c.tls->init(*options_.tls, c.url->server_name)) return fail(c, ClientFailure::Other, ENOMEM);
    c.state = State::TlsHandshaking;
    TlsLinkFor link(*this, c);
    settle_tls(c, tls_pump_->resume(*c.tls, link));  // the client hello
}

void Client::start_handshake(Connection& c) {
    c.key = make_websocket_key(rng_.bytes<16>());
    char request[4096];
    const std::size_t n = write_client_upgrade_request(
        request, {c.url->host, c.url->target, {c.key.data(), c.key.size()}, options_.subprotocols, request_headers_});
    c.url.reset();  // nothing needs it past the request
    if (n == 0) return fail(c, ClientFailure::Other, E2BIG);
    c.state = State::Handshaking;
    if (!write(c, request, n)) fail(c, client_failure_from_errno(errno), errno);
}

bool Client::consume_tls(Connection& c, std::string_view ciphertext) {
    TlsLinkFor link(*this, c);
    return settle_tls(c, tls_pump_->receive(*c.tls, {ciphertext.data(), ciphertext.size()}, link));
}

bool Client::settle_tls(Connection& c, net::TlsPumpStatus status) {
    switch (status) {
    case net::TlsPumpStatus::Open:
    case net::TlsPumpStatus::Deferred:  // the client's pump has no handshake budget: never
        return true;
    case net::TlsPumpStatus::PeerClosed:
        if (c.state == State::Closing) finish(c, close_code::kAbnormal, {});
        else fail(c, ClientFailure::ClosedByServer, close_code::kAbnormal);
        return false;
    case net::TlsPumpStatus::Failed:
        fail(c, ClientFailure::Tls, c.state == State::TlsHandshaking ? 0 : close_code::kAbnormal);
        return false;
    case net::TlsPumpStatus::Ended:
        // A write to the socket failed (the connection is still here), or a callback ended the connection.
        if (c.fd >= 0) fail(c, client_failure_from_errno(errno), errno);
        return false;
    }
    return false;
}

// One connection's side of the message layer: the application's callbacks, and how the client answers.
class Client::MessageEventsFor final : public MessageEvents {
public:
    MessageEventsFor(Client& client, Connection& c) noexcept : client_(client), c_(c) {}

    bool on_message(std::string_view message, Opcode opcode) override {
        const ClientBehavior& b = client_.behavior_;
        if (c_.state == State::Open) {
            if (b.on_message_head) b.on_message_head(c_, opcode, message.size(), message);
            else if (b.on_message) b.on_message(c_, message, opcode);
        }
        return c_.fd >= 0;
    }
    // on_message_head wants a message's size and first bytes only: uncompressed ones are not gathered.
    bool streams_uncompressed() const noexcept override { return static_cast<bool>(client_.behavior_.on_message_head); }
    bool on_message_piece(std::string_view piece, bool last, Opcode opcode) override {
        if (last && c_.message_bytes == 0) return on_message(piece, opcode);  // whole, where it lies
        if (c_.head_length < sizeof c_.head) {
            const std::size_t take = std::min(piece.size(), sizeof c_.head - c_.head_length);
            std::memcpy(c_.head + c_.head_length, piece.data(), take);
            c_.head_length = static_cast<std::uint8_t>(c_.head_length + take);
        }
        c_.message_bytes += piece.size();
        if (!last) return true;
        const std::uint64_t size = c_.message_bytes;
        const std::string_view head(c_.head, c_.head_length);
        c_.message_bytes = 0;
        c_.head_length = 0;
        if (c_.state == State::Open) client_.behavior_.on_message_head(c_, opcode, size, head);
        return c_.fd >= 0;
    }
    bool on_ping(std::string_view payload) override {
        if (c_.state == State::Open && client_.behavior_.on_ping) client_.behavior_.on_ping(c_, payload);
        return c_.fd >= 0;
    }
    bool on_pong(std::string_view payload) override {
        if (c_.state == State::Open && client_.behavior_.on_pong) client_.behavior_.on_pong(c_, payload);
        return c_.fd >= 0;
    }
    void on_close(std::uint16_t code, std::string_view reason, bool answered) override {
        if (answered) client_.finish(c_, code, reason);  // the answer to our close: done
        else client_.fail(c_, ClientFailure::ClosedByServer, code, code, reason);
    }
    void send_control(Opcode opcode, std::string_view payload) override { client_.send_control(c_, opcode, payload); }
    bool close_sent() const noexcept override { return c_.state == State::Closing; }
    Inflater* inflater(bool& keep_context) noexcept override {
        keep_context = !c_.deflate->params.server_no_context_takeover;
        return keep_context ? &c_.deflate->inflater : &client_.shared_inflater_;
    }

private:
    Client& client_;
    Connection& c_;
};

bool Client::consume(Connection& c, std::string_view bytes) {
    if (c.state == State::Handshaking) {
        c.in.append(bytes);
        if (!finish_handshake(c)) return false;
        if (c.state == State::Handshaking) return true;  // the head is not all here yet
        bytes = {};  // what followed the head is in c.in now
    }
    // The decoder reads contiguous bytes: feed the read buffer directly unless an incomplete frame header waits.
    std::span<char> input;
    if (!c.in.empty()) {
        c.in.append(bytes);
        input = {c.in.data(), c.in.size()};
    } else {
        input = {const_cast<char*>(bytes.data()), bytes.size()};
    }
    if (input.empty()) return true;
    MessageEventsFor events(*this, c);
    const ReadResult r = reader_.feed(decoder_config_, c.decoder, c.message, input, events);
    if (c.fd < 0) return false;  // an event ended it
    switch (r.status) {
    case ReadStatus::NeedMore:
    case ReadStatus::Ended:
        // What is left is at most an incomplete header or control frame; keep it, reusing c.in's space.
        if (input.data() == c.in.data()) {
            c.in.erase(0, r.consumed);
        } else {
            c.in.assign(input.data() + r.consumed, input.size() - r.consumed);
        }
        return true;
    case ReadStatus::Closed:
        return false;  // on_close ended it
    case ReadStatus::Failed:
        fail_protocol(c, r.close_code);
        return false;
    }
    return true;
}

bool Client::finish_handshake(Connection& c) {
    HttpResponseParser parser;
    HttpResponse response;
    const ParseResult parsed = parser.parse(c.in, response);
    if (parsed.status == ParseStatus::Incomplete) return true;
    if (parsed.status == ParseStatus::Error) {
        fail(c, ClientFailure::HandshakeInvalid, parsed.http_status);
        return false;
    }
    if (response.status != 101) {
        fail(c, ClientFailure::HandshakeStatus, response.status);
        return false;
    }
    const ClientUpgradeCheck verdict = check_upgrade_response(response, {c.key.data(), c.key.size()},
                                                              options_.subprotocols,
                                                              options_.deflate ? &options_.deflate_offer : nullptr);
    if (!verdict.accepted) {
        fail(c, ClientFailure::HandshakeInvalid, 101);
        return false;
    }
    if (verdict.deflate) {
        c.deflate = std::make_unique<ConnectionDeflate>();
        c.deflate->params = verdict.deflate_params;
        c.decoder.set_rsv1_allowed(true);
    }
    c.subprotocol.assign(verdict.subprotocol);
    c.in.erase(0, parsed.head_bytes);
    c.state = State::Open;
    ++open_;
    if (behavior_.on_open) behavior_.on_open(c);
    return c.fd >= 0;
}

bool Client::write(Connection& c, const char* data, std::size_t size) {
    if (!c.tls) return write_raw(c, data, size);
    if (&c == corked_) {
        if (take_into_cork(plain_cork_, c, data, size)) return true;
        if (!flush_cork()) return false;
    }
    TlsLinkFor link(*this, c);
    const iovec iov{const_cast<char*>(data), size};
    return tls_pump_->send(*c.tls, &iov, 1, link);
}

bool Client::write_raw(Connection& c, const char* data, std::size_t size) {
    if (&c == corked_) {
        if (take_into_cork(cork_, c, data, size)) return true;
        // Only the bytes for the wire go first: these may be the TLS session's records on their way out, in the
        // middle of which nothing may be encrypted, and corked plaintext comes after them anyway.
        if (!send_cork()) return false;
    }
    return write_through(c, data, size);
}

bool Client::take_into_cork(CorkBuffer& cork, const Connection& c, const char* data, std::size_t size) noexcept {
    const iovec piece{const_cast<char*>(data), size};
    return &c == corked_ && size <= net::kCoalesceBytes && c.out.empty() && !c.send_in_flight &&
           cork.take(&piece, 1, size);
}

bool Client::flush_cork() {
    if (!plain_cork_.empty()) {
        const iovec plain = plain_cork_.drain();
        TlsLinkFor link(*this, *corked_);
        if (!tls_pump_->send(*corked_->tls, &plain, 1, link)) return false;  // its record: the cork, or past it
    }
    return send_cork();
}

bool Client::send_cork() {
    if (cork_.empty()) return true;
    const iovec corked = cork_.drain();
    return write_through(*corked_, static_cast<const char*>(corked.iov_base), corked.iov_len);
}

bool Client::write_through(Connection& c, const char* data, std::size_t size) {
    if (c.out.empty() && !c.send_in_flight) {
        const iovec iov{const_cast<char*>(data), size};
        const long n = reactor_->try_write(c.fd, &iov, 1);
        if (n < 0) {
            errno = static_cast<int>(-n);  // for the caller's client_failure_from_errno()
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        if (size == 0) return true;
    }
    const iovec rest{const_cast<char*>(data), size};
    if (!c.out.push_copy(&rest, 1, 0)) {
        errno = ENOMEM;
        return false;
    }
    if (!c.send_in_flight) start_send(c);
    return true;
}

void Client::start_send(Connection& c) {
    iovec iov[net::kMaxSendIovecs];
    const int count = c.out.gather(iov, net::kMaxSendIovecs);
    c.send_in_flight = true;
    reactor_->send(token_of(c), c.fd, iov, count);
}

SendStatus Client::send(Connection& c, Opcode opcode, std::string_view payload) {
    if (c.state != State::Open) return SendStatus::Dropped;
    if (c.out.bytes() + payload.size() > options_.max_pending_bytes && !c.out.empty()) return SendStatus::Dropped;
    bool rsv1 = false;
    if (c.deflate && payload.size() >= options_.deflate_min_bytes) {
        const std::string_view compressed = compress(c, payload);
        if (!compressed.empty()) {
            payload = compressed;
            rsv1 = true;
        }
    }
    const std::size_t frame_size = frame_header_length(payload.size(), true) + payload.size();
    if (scratch_.size() < frame_size) scratch_.resize(frame_size);
    const MaskKey mask = rng_.bytes<4>();
    const std::size_t header = encode_frame_header(scratch_.data(), opcode, payload.size(), true, rsv1, &mask);
    apply_mask_copy(scratch_.data() + header, payload.data(), payload.size(), mask);
    const bool was_idle = c.out.empty();
    if (!write(c, scratch_.data(), frame_size)) {
        fail(c, client_failure_from_errno(errno), errno);
        return SendStatus::Dropped;
    }
    if (was_idle && c.out.empty()) return SendStatus::Success;
    c.drain_owed = true;
    return SendStatus::Backpressure;
}

void Client::send_control(Connection& c, Opcode opcode, std::string_view payload) {
    char frame[kMaxControlFrameBytes];
    const MaskKey mask = rng_.bytes<4>();
    write(c, frame, encode_control_frame(frame, opcode, payload, &mask));
}

std::string_view Client::compress(Connection& c, std::string_view payload) {
    const DeflateParams& p = c.deflate->params;
    // zlib cannot compress within a 256-byte window: with client_max_window_bits=8 messages go uncompressed.
    if (p.client_max_window_bits < kMinDeflateWindowBits) return {};
    const bool keep = !p.client_no_context_takeover;
    Deflater& deflater = keep ? c.deflate->deflater : shared_deflaters_[p.client_max_window_bits - kMinDeflateWindowBits];
    if (!deflater.ready() && !deflater.init(options_.deflate_level, p.client_max_window_bits, 8)) return {};
    deflate_out_.clear();
    if (!deflater.compress(payload, deflate_out_, keep)) return {};
    return deflate_out_.view();
}

}  // namespace surge
