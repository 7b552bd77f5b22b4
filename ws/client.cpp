#include "surge/ws/client.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>

#include "surge/core/clock.hpp"
#include "surge/net/socket_io.hpp"
#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/frame_header.hpp"

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
    reactor_->set_wait_batch(options_.wait_batch, options_.wait_batch_us);
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
    corked_ = c;  // what this read is answered with leaves together, once it is handled
    const bool open = c->tls ? consume_tls(*c, view) : consume(*c, view);
    if (corked_ == c) {  // release() uncorks a connection that ended meanwhile
        const bool flushed = flush_cork();
        corked_ = nullptr;
        if (!flushed && c->fd >= 0) fail(*c, client_failure_from_errno(errno), errno);
    }
    return open && c->fd >= 0;
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
    const int fd = net::open_client_socket(url.family(), source);
    if (fd < 0) {
        fail(c, client_failure_from_errno(-fd), -fd);
        return nullptr;
    }
    c.fd = fd;
    const int started = reactor_->connect(token_of(c), c.fd, c.url->socket_address(), c.url->address_length);
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
    if (&c == corked_) {  // cut: what it was about to be sent goes nowhere
        cork_.clear();
        plain_cork_.clear();
        corked_ = nullptr;
    }
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
    if (&c == corked_) {
        // What the connection wrote before it ended (a close frame among it) goes as a write would have taken it
        // without the cork, as far as the socket takes it now; a failure changes nothing, it is ending anyway.
        if (c.fd >= 0) flush_cork();
        cork_.clear();
        plain_cork_.clear();
        corked_ = nullptr;
    }
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

}  // namespace surge
