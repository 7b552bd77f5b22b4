#include "ws/client.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>

#include "core/clock.hpp"
#include "net/socket_io.hpp"
#include "ws/frame_encoder.hpp"
#include "ws/frame_header.hpp"

namespace surge {

std::string_view client_failure_name(ClientFailure failure) noexcept {
    switch (failure) {
    case ClientFailure::Refused: return "refused";
    case ClientFailure::Timeout: return "timeout";
    case ClientFailure::Reset: return "reset";
    case ClientFailure::AddressUnavailable: return "address_unavailable";
    case ClientFailure::Descriptors: return "descriptors";
    case ClientFailure::HandshakeStatus: return "handshake_status";
    case ClientFailure::HandshakeInvalid: return "handshake_invalid";
    case ClientFailure::ClosedByServer: return "closed_by_server";
    case ClientFailure::Protocol: return "protocol";
    case ClientFailure::Backlog: return "backlog";
    case ClientFailure::Tls: return "tls";
    case ClientFailure::Other: return "other";
    case ClientFailure::None: return "none";
    case ClientFailure::Count: break;
    }
    return "unknown";
}

ClientFailure client_failure_from_errno(int error) noexcept {
    switch (error) {
    case ECONNREFUSED: return ClientFailure::Refused;
    case ETIMEDOUT: return ClientFailure::Timeout;
    case ECONNRESET: case EPIPE: case ECONNABORTED: return ClientFailure::Reset;
    case EADDRNOTAVAIL: case EADDRINUSE: return ClientFailure::AddressUnavailable;
    case EMFILE: case ENFILE: return ClientFailure::Descriptors;
    default: return ClientFailure::Other;
    }
}

// ClientWebSocket: the handle forwards to its Client, which knows it as a Connection.

SendStatus ClientWebSocket::send(std::string_view message, Opcode opcode) noexcept {
    return client_->send(static_cast<Client::Connection&>(*this), opcode, message);
}

void ClientWebSocket::close(std::uint16_t code, std::string_view reason) noexcept {
    client_->start_close(static_cast<Client::Connection&>(*this), code, reason);
}

void ClientWebSocket::abort() noexcept { client_->abort(static_cast<Client::Connection&>(*this)); }

bool ClientWebSocket::is_open() const noexcept {
    return static_cast<const Client::Connection&>(*this).state == Client::State::Open;
}

std::size_t ClientWebSocket::buffered_amount() const noexcept {
    return static_cast<const Client::Connection&>(*this).out.bytes();
}

std::string_view ClientWebSocket::subprotocol() const noexcept {
    return static_cast<const Client::Connection&>(*this).subprotocol;
}

const DeflateParams* ClientWebSocket::deflate() const noexcept {
    const auto& c = static_cast<const Client::Connection&>(*this);
    return c.deflate ? &c.deflate->params : nullptr;
}

namespace {
// Keeps tokens below 2^61, which the io_uring reactor's connect tag needs.
constexpr std::uint32_t kGenerationMask = 0x0FFFFFFF;

std::uint64_t seed_or_random(std::uint64_t seed) {
    while (seed == 0) {
        if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = monotonic_ns();  // no entropy source: the clock
    }
    return seed;
}
}  // namespace

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

Client::Client(ClientBehavior behavior, ClientOptions options, std::uint64_t seed)
    : behavior_(std::move(behavior)), options_(std::move(options)), rng_(seed_or_random(seed)) {
    decoder_config_.role = Role::Client;
    decoder_config_.max_message_bytes = options_.max_message_bytes;
    request_headers_ = options_.extra_headers;
    if (options_.deflate) {
        char offer[kDeflateHeaderReserve];
        const std::size_t n = write_deflate_offer(offer, options_.deflate_offer);
        request_headers_.append("Sec-WebSocket-Extensions: ").append(offer, n).append("\r\n");
    }
    if (options_.tls) tls_pump_ = std::make_unique<net::TlsPump>();
    net::ReactorResult made = net::make_reactor(options_.backend, *this);
    if (!made.reactor) {
        throw std::system_error(-made.error, std::generic_category(),
                                "surge::Client: no " + std::string(net::backend_name(options_.backend)) +
                                    " reactor (" + made.why + ")");
    }
    reactor_ = std::move(made.reactor);
}

Client::~Client() {
    // No callbacks: the sockets are closed here and the reactor, destroyed next, cancels what it had in flight;
    // only then are the bytes its sends pointed at freed.
    for (Connection& c : connections_) {
        if (c.fd >= 0) ::close(c.fd);
    }
    reactor_.reset();
    for (Connection& c : connections_) {
        c.out.clear();
        c.message.release();
    }
    for (auto& [token, closing] : closing_sockets_) closing.out.clear();
}

// ---- the reactor's events ----------------------------------------------------------------------------------

Client::Connection* Client::lookup(std::uint64_t token) noexcept {
    const auto id = static_cast<std::uint32_t>(token);
    if (id >= connections_.size()) return nullptr;
    Connection& c = connections_[id];
    return c.generation == (token >> 32) ? &c : nullptr;
}

int Client::fd_of(std::uint64_t token) const noexcept {
    const auto id = static_cast<std::uint32_t>(token);
    if (id >= connections_.size()) return -1;
    const Connection& c = connections_[id];
    return c.generation == (token >> 32) ? c.fd : -1;
}

std::uint8_t* Client::io_state(std::uint64_t token) noexcept {
    if (Connection* c = lookup(token)) return &c->io_state;
    const auto closing = closing_sockets_.find(token);
    return closing == closing_sockets_.end() ? nullptr : &closing->second.io_state;
}

void Client::on_accept(std::uint64_t, int fd) { ::close(fd); }  // the client has no listener

void Client::on_connected(std::uint64_t token, int result) {
    Connection* c = lookup(token);
    if (!c || c->fd < 0) return;
    if (result < 0) return fail(*c, client_failure_from_errno(-result), -result);
    connected(*c);
}

bool Client::on_data(std::uint64_t token, std::span<char> bytes) {
    Connection* c = lookup(token);
    if (!c || c->fd < 0) return false;
    const std::string_view view(bytes.data(), bytes.size());
    if (!(c->tls ? consume_tls(*c, view) : consume(*c, view))) return false;
    return c->fd >= 0;
}

void Client::on_recv_end(std::uint64_t token, int result) {
    Connection* c = lookup(token);
    if (!c || c->fd < 0) return;
    if (c->state == State::Closing) return finish(*c, close_code::kAbnormal, {});
    if (result == 0) return fail(*c, ClientFailure::ClosedByServer, close_code::kAbnormal);
    fail(*c, client_failure_from_errno(-result), -result);
}

void Client::on_sent(std::uint64_t token, int result) {
    Connection* c = lookup(token);
    if (!c) return;
    c->send_in_flight = false;
    if (c->fd < 0) return;
    if (result < 0) return fail(*c, client_failure_from_errno(-result), -result);
    c->out.consume(static_cast<std::size_t>(result));
    if (!c->out.empty()) return start_send(*c);
    if (c->drain_owed) {
        c->drain_owed = false;
        if (c->state == State::Open && behavior_.on_drain) behavior_.on_drain(*c);
    }
}

void Client::on_closed(std::uint64_t token) {
    // The socket is gone and nothing the reactor had in flight can read its bytes any more.
    const auto closing = closing_sockets_.find(token);
    if (closing == closing_sockets_.end()) return;
    closing->second.out.clear();
    closing_sockets_.erase(closing);
}

ClientWebSocket* Client::connection(std::uint32_t id) noexcept {
    return id < connections_.size() ? &connections_[id] : nullptr;
}

Client::Connection& Client::slot_for_new() {
    // The lowest free id first, so that ids stay dense for the caller's arrays.
    if (!free_ids_.empty()) {
        std::pop_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
        const std::uint32_t id = free_ids_.back();
        free_ids_.pop_back();
        return connections_[id];
    }
    Connection& c = connections_.emplace_back();
    c.client_ = this;
    c.id_ = static_cast<std::uint32_t>(connections_.size() - 1);
    return c;
}

ClientWebSocket* Client::connect(const Url& url, const sockaddr_in* source) {
    Connection& c = slot_for_new();
    c.failure_ = ClientFailure::None;
    c.failure_detail_ = 0;
    c.head_length = 0;
    c.message_bytes = 0;
    c.drain_owed = false;
    c.decoder = FrameDecoder{};
    c.subprotocol.clear();
    c.url = std::make_unique<Url>(url);
    c.started_ns = monotonic_ns();
    ++live_;
    c.state = State::Connecting;
    if (url.tls() && !options_.tls) {
        fail(c, ClientFailure::Tls, 0);
        return nullptr;
    }
    const int fd = net::open_client_socket(source);
    if (fd < 0) {
        fail(c, client_failure_from_errno(-fd), -fd);
        return nullptr;
    }
    c.fd = fd;
    const int started = reactor_->connect(token_of(c), c.fd, reinterpret_cast<const sockaddr*>(&c.url->address),
                                          sizeof c.url->address);
    if (started != 0) {
        fail(c, client_failure_from_errno(-started), -started);
        return nullptr;
    }
    return &c;
}

int Client::poll(int timeout_ms) {
    const int n = reactor_->run_once(timeout_ms);
    if (!closing_ids_.empty()) expire_closing();
    recycle_ended_ids();
    return n < 0 ? 0 : n;
}

void Client::expire_closing() {
    const std::uint64_t now = monotonic_ns();
    const std::uint64_t timeout = std::uint64_t{options_.close_timeout_ms} * 1'000'000;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < closing_ids_.size(); ++i) {
        Connection& c = connections_[closing_ids_[i]];
        if (c.state != State::Closing) continue;  // ended, or its id was reused (then it is listed again)
        if (now - c.started_ns < timeout) {
            closing_ids_[kept++] = closing_ids_[i];
            continue;
        }
        net::reset_on_close(c.fd);
        fail(c, ClientFailure::Timeout, 0);
    }
    closing_ids_.resize(kept);
}

void Client::recycle_ended_ids() {
    for (const std::uint32_t id : ended_ids_) {
        free_ids_.push_back(id);
        std::push_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
    }
    ended_ids_.clear();
}

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
    TlsLinkFor link(*this, c);
    const iovec iov{const_cast<char*>(data), size};
    return tls_pump_->send(*c.tls, &iov, 1, link);
}

bool Client::write_raw(Connection& c, const char* data, std::size_t size) {
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

void Client::start_close(Connection& c, std::uint16_t code, std::string_view reason) {
    if (c.fd < 0 || c.state == State::Closing) return;
    if (c.state != State::Open) return abort(c);
    char frame[kMaxControlFrameBytes];
    const MaskKey mask = rng_.bytes<4>();
    c.state = State::Closing;
    c.started_ns = monotonic_ns();
    closing_ids_.push_back(c.id_);
    --open_;
    if (!write(c, frame, encode_close_frame(frame, code, reason, &mask))) finish(c, close_code::kAbnormal, {});
}

void Client::abort(Connection& c) {
    if (c.fd < 0) return;
    const bool owes_close = c.state == State::Open || c.state == State::Closing;
    net::reset_on_close(c.fd);
    if (owes_close) return finish(c, close_code::kAbnormal, {});
    release(c);
}

void Client::expire_unopened(std::uint64_t started_before_ns) {
    // By index: a callback may connect() and so grow the deque, which invalidates its iterators (not references).
    for (std::size_t i = 0; i < connections_.size(); ++i) {
        Connection& c = connections_[i];
        if (c.fd >= 0 && c.state != State::Open && c.state != State::Closing && c.started_ns < started_before_ns) {
            fail(c, ClientFailure::Timeout, 0);
        }
    }
    recycle_ended_ids();
}

void Client::fail_protocol(Connection& c, std::uint16_t code) {
    char frame[kMaxControlFrameBytes];
    const MaskKey mask = rng_.bytes<4>();
    write(c, frame, encode_close_frame(frame, code, {}, &mask));
    fail(c, ClientFailure::Protocol, code, code);
}

void Client::fail(Connection& c, ClientFailure why, int detail, std::uint16_t code, std::string_view reason) {
    if (c.state == State::Idle) return;  // already ended
    const bool was_open = c.state == State::Open || c.state == State::Closing;
    release(c);
    c.failure_ = why;
    c.failure_detail_ = detail;
    if (was_open) {
        if (behavior_.on_close) behavior_.on_close(c, code, reason);
    } else if (behavior_.on_connect_failed) {
        behavior_.on_connect_failed(c, why, detail);
    }
}

void Client::finish(Connection& c, std::uint16_t code, std::string_view reason) {
    if (c.state == State::Idle) return;
    release(c);
    if (behavior_.on_close) behavior_.on_close(c, code, reason);
}

void Client::release(Connection& c) {
    if (c.state == State::Open) --open_;
    if (c.fd >= 0) {
        // The socket (and any send under way) moves to closing_sockets_ under the current token until the
        // reactor's on_closed(); the id takes a new generation and is free for a new connection at once.
        const std::uint64_t token = token_of(c);
        ClosingSocket& closing = closing_sockets_[token];
        reactor_->close(token, c.fd);
        closing.io_state = c.io_state;
        closing.out.swap(c.out);
        c.generation = (c.generation + 1) & kGenerationMask;
        c.io_state = 0;
        c.send_in_flight = false;
    }
    ended_ids_.push_back(c.id_);
    c.fd = -1;
    c.state = State::Idle;
    --live_;
    std::string().swap(c.in);
    c.out.clear();
    c.message.release();
    c.tls.reset();
    c.deflate.reset();
    c.url.reset();
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
