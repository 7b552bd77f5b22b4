#include "ws/detail/shard.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "ws/deflate_negotiation.hpp"
#include "ws/frame_encoder.hpp"
#include "ws/http_body.hpp"
#include "ws/upgrade.hpp"

namespace surge::detail {
namespace {

constexpr long long kTickMs = 100;
constexpr unsigned kCloseGraceSeconds = 2;  // closing handshake and lingering close
constexpr std::size_t kPoolCachedChunks = 256;

// WebSocket::flags_
constexpr std::uint8_t kSendInFlight = 1;
constexpr std::uint8_t kCloseWhenFlushed = 2;
constexpr std::uint8_t kCloseNotified = 4;
constexpr std::uint8_t kPingSent = 8;
constexpr std::uint8_t kOpened = 16;
constexpr std::uint8_t kInputDone = 32;  // a close frame arrived or the write side is shut: input is discarded
constexpr std::uint8_t kLingering = 64;  // shutdown(SHUT_WR) sent, waiting for the peer's end of stream
constexpr std::uint8_t kStaged = 128;    // in staged_: broadcast frames queued, written at the end of the fan-out

// WebSocket::deflate_: what permessage-deflate agreed for the connection, and the state of its current message.
constexpr std::uint8_t kDeflateOn = 1;
constexpr std::uint8_t kServerNoContext = 2;    // each message is compressed alone: the shard's compressor serves
constexpr std::uint8_t kClientNoContext = 4;    // the client compresses each message alone: so does the shard's
                                                // decompressor
// A broadcast frame compressed by the publisher went out to a connection with its own compressor: the client's
// window now holds bytes that compressor never saw, so it must start over before its next message.
constexpr std::uint8_t kCompressorStale = 16;
constexpr unsigned kWindowShift = 5;  // bits 5-7: the server's window bits - 8 (9..15)

unsigned server_window_bits(std::uint8_t deflate) noexcept { return (deflate >> kWindowShift) + 8u; }

// Scratch buffers past this size are freed after use, so one large message does not pin its memory.
constexpr std::size_t kScratchKeepBytes = 256 * 1024;

// The fan-out's writes go to the reactor this many connections at a time (io_uring: one submission each), with
// room for every piece each may gather.
constexpr std::size_t kBatchWrites = 256;
constexpr std::size_t kBatchIovecs = 4 * 1024;

thread_local Shard* t_running_shard = nullptr;

// Bytes per slot: the WebSocket, then room for the largest per-connection data of any route, so that every
// slot fits every route; rounded to keep the next slot aligned for both.
std::size_t slot_stride(const Routes& routes) {
    std::size_t end = sizeof(WebSocket);
    std::size_t align = alignof(WebSocket);
    for (const WebSocketRoute& route : routes.websockets) {
        if (route.data.size == 0) continue;
        end = std::max(end, route.data.offset + route.data.size);
        align = std::max(align, route.data.align);
    }
    return (end + align - 1) / align * align;
}

}  // namespace

Shard& Shard::running() noexcept { return *t_running_shard; }
Shard* Shard::current() noexcept { return t_running_shard; }

Shard::Shard(unsigned index, const ServerConfig& config, const Routes& routes, Broadcaster& broadcaster,
             const net::TlsContext* tls, int listener_fd)
    : index_(index),
      config_(config),
      routes_(routes),
      broadcaster_(broadcaster),
      tls_(tls),
      listener_fd_(listener_fd),
      pool_(config.max_header_bytes + config.max_body_bytes, kPoolCachedChunks),
      wheel_(4096),
      slab_(slot_stride(routes)),
      topics_(broadcaster.directory()) {
    if (tls_) {
        const unsigned per_turn = config.tls_handshakes_per_iteration ? config.tls_handshakes_per_iteration : 1;
        tls_pump_ = std::make_unique<net::TlsPump>(per_turn);
    } else {
        batch_iov_ = std::make_unique<iovec[]>(kBatchIovecs);
        batch_.reserve(kBatchWrites);
        batch_owners_.reserve(kBatchWrites);
    }
}

Shard::~Shard() {
    if (listener_fd_ >= 0) ::close(listener_fd_);
}

bool Shard::start_reactor() {
    net::ReactorResult made = net::make_reactor(config_.backend, *this);
    if (!made.reactor) {
        SURGE_LOG_ERROR("shard %u: no %s reactor: %s (%s)", index_, net::backend_name(config_.backend).data(),
                        std::strerror(-made.error), made.why.data());
        return false;
    }
    reactor_ = std::move(made.reactor);
    if (index_ == 0) SURGE_LOG_INFO("reactor backend: %s (%s)", net::backend_name(reactor_->backend()).data(),
                                    made.why.data());
    const int added = reactor_->add_listener(listener_fd_, 0);
    if (added != 0) {
        SURGE_LOG_ERROR("shard %u: cannot watch the listener: %s", index_, std::strerror(-added));
        return false;
    }
    return true;
}

// ---- slots ----------------------------------------------------------------------------------------------

std::string_view Shard::subprotocol_of(const WebSocket& ws) const noexcept {
    if (ws.subprotocol_ == 0) return {};
    return routes_.websockets[ws.route_].behavior.subprotocols[ws.subprotocol_ - 1];
}

void Shard::release_slot(WebSocket& ws) noexcept {
    wheel_.cancel(ws.timer_);
    ws.fd_ = -1;
    ws.flags_ = 0;
    ws.io_state_ = 0;
    ws.subprotocol_ = 0;
    ws.close_code_ = 0;
    ws.held_bytes_ = 0;
    ws.request_scanned_ = 0;
    if (ws.deflate_ & kDeflateOn) broadcaster_.count_deflate(server_window_bits(ws.deflate_), -1);
    ws.deflate_ = 0;
    if (ws.index_ < extras_.size()) extras_[ws.index_].reset();
    slab_.release(ws);
}

std::uint8_t* Shard::io_state(std::uint64_t token) noexcept {
    WebSocket* ws = lookup(token);
    return ws ? &ws->io_state_ : nullptr;
}

int Shard::fd_of(std::uint64_t token) const noexcept {
    const WebSocket* ws = lookup(token);
    return ws && ws->state_ != WebSocket::State::Closed ? ws->fd_ : -1;
}

// ---- accepting and reading --------------------------------------------------------------------------------

void Shard::on_accept(std::uint64_t, int fd) {
    if (stopping_ || (config_.max_connections && slab_.live() >= config_.max_connections)) {
        ::close(fd);
        return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // pushed messages go out at once
    WebSocket& ws = slab_.allocate();
    ws.fd_ = fd;
    ws.state_ = WebSocket::State::Http;
    if (tls_) {
        ConnectionExtras* own = extras(ws);
        if (!own || !own->tls.init(*tls_)) {
            ::close(fd);
            release_slot(ws);
            return;
        }
    }
    arm_timer(ws, config_.handshake_timeout_seconds);  // under TLS, the TLS handshake counts too
    if (reactor_->add_connection(fd, token_of(ws)) != 0) {
        ::close(fd);
        release_slot(ws);
    }
}

bool Shard::on_data(std::uint64_t token, std::span<char> bytes) {
    WebSocket* ws = lookup(token);
    if (!ws || !alive(*ws)) return false;
    if (tls_) return on_tls_data(*ws, bytes);
    return on_plaintext(*ws, bytes);
}

bool Shard::on_plaintext(WebSocket& ws, std::span<char> bytes) {
    if (ws.flags_ & kInputDone) return true;  // closing: read and discard until the peer's end of stream
    if (ws.state_ == WebSocket::State::Http) return handle_http(ws, bytes);
    if (ws.state_ == WebSocket::State::Open) {
        ws.flags_ &= static_cast<std::uint8_t>(~kPingSent);
        arm_timer(ws, behavior(ws).idle_timeout_seconds);
    }
    return handle_frames(ws, bytes);
}

// ---- TLS ------------------------------------------------------------------------------------------------------

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

bool Shard::flush_tls(WebSocket& ws) noexcept {
    TlsLinkFor link(*this, ws);
    return net::TlsPump::flush(session(ws), link);  // the session lives until on_closed(), even when this fails
}

bool Shard::send_close_notify(WebSocket& ws) noexcept {
    if (!tls_) return false;  // under TLS every connection has its session from on_accept() to on_closed()
    TlsLinkFor link(*this, ws);
    if (!net::TlsPump::close_notify(session(ws), link)) return false;
    return alive(ws) && (!ws.out_.empty() || (ws.flags_ & kSendInFlight));
}

void Shard::on_recv_end(std::uint64_t token, int) {
    if (WebSocket* ws = lookup(token)) terminate(*ws);
}

bool Shard::hold(WebSocket& ws, std::span<const char> bytes) {
    if (bytes.empty()) return true;
    if (!ws.held_) {
        ws.held_ = reinterpret_cast<char*>(pool_.acquire());
        if (!ws.held_) return false;
        ws.held_bytes_ = 0;
    }
    if (bytes.size() > pool_.chunk_size() - ws.held_bytes_) return false;
    std::memcpy(ws.held_ + ws.held_bytes_, bytes.data(), bytes.size());
    ws.held_bytes_ += static_cast<std::uint32_t>(bytes.size());
    return true;
}

void Shard::drop_held(WebSocket& ws) noexcept {
    pool_.release(reinterpret_cast<std::byte*>(ws.held_));
    ws.held_ = nullptr;
    ws.held_bytes_ = 0;
}

bool Shard::handle_http(WebSocket& ws, std::span<char> bytes) {
    // In place when the whole request came in one read; otherwise gathered in a pooled chunk.
    std::span<char> received = bytes;
    if (ws.held_bytes_ > 0) {
        if (!hold(ws, bytes)) {
            refuse(ws, 431, "request too large");
            return false;
        }
        received = {ws.held_, ws.held_bytes_};
    }
    HttpRequestParser parser(config_.max_header_bytes, ws.request_scanned_);
    HttpRequest request;
    const ParseResult parsed = parser.parse({received.data(), received.size()}, request);
    ws.request_scanned_ = parser.scanned();
    if (parsed.status == ParseStatus::Error) {
        refuse(ws, parsed.http_status, parsed.http_status == 431 ? "request head too large" : "malformed request");
        return false;
    }
    if (parsed.status == ParseStatus::Incomplete) {
        if (ws.held_bytes_ == 0 && !hold(ws, bytes)) {
            refuse(ws, 431, "request too large");
            return false;
        }
        return true;
    }
    ws.request_scanned_ = 0;

    const int websocket_route = routes_.find_websocket(request.path());
    bool path_known = false;
    const HttpRoute* http_route = routes_.find_http(request.method, request.path(), path_known);
    const bool wants_upgrade = TokenList(request, "Upgrade").contains("websocket");
    if (websocket_route >= 0 && (wants_upgrade || !http_route)) {
        ws.route_ = static_cast<std::uint16_t>(websocket_route);
        return upgrade(ws, request, parsed.head_bytes, received);
    }
    if (!http_route) {
        refuse(ws, path_known ? 405 : 404, path_known ? "method not allowed" : "not found");
        return false;
    }

    // A body, if any, must be whole before the handler runs.
    const BodyFraming body = frame_request_body(request, config_.max_body_bytes);
    if (body.status != 0) {
        refuse(ws, body.status, body.reason);
        return false;
    }
    const std::size_t body_length = body.length;
    if (received.size() < parsed.head_bytes + body_length) {
        if (ws.held_bytes_ == 0 && !hold(ws, bytes)) {
            refuse(ws, 413, "request too large");
            return false;
        }
        return true;
    }
    answer_http(ws, *http_route, request, {received.data() + parsed.head_bytes, body_length});
    return false;
}

void Shard::answer_http(WebSocket& ws, const HttpRoute& route, const HttpRequest& request, std::string_view body) {
    Response response;
    route.handler(Request{request, body}, response);
    const std::string bytes = response.serialize();
    drop_held(ws);
    const iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    if (write_or_queue(ws, &iov, 1, bytes.size())) finish_when_flushed(ws);
}

void Shard::refuse(WebSocket& ws, int status, std::string_view reason) {
    char response[1024];
    const std::size_t n = write_refusal(response, status, reason);
    drop_held(ws);
    const iovec iov{response, n};
    if (write_or_queue(ws, &iov, 1, n)) finish_when_flushed(ws);
}

bool Shard::upgrade(WebSocket& ws, const HttpRequest& request, std::size_t head_bytes, std::span<char> received) {
    const WebSocketRoute& route = routes_.websockets[ws.route_];
    const WebSocketBehavior& b = route.behavior;
    auto check_origin = [&](const HttpRequest& r) { return b.check_origin(r); };
    std::uint8_t agreed = 0;  // 1 + index into b.subprotocols
    auto choose = [&](const TokenList& offered) -> std::string_view {
        for (std::size_t i = 0; i < b.subprotocols.size() && i < 255; ++i) {
            if (offered.contains(b.subprotocols[i])) {
                agreed = static_cast<std::uint8_t>(i + 1);
                return b.subprotocols[i];
            }
        }
        return {};
    };
    UpgradePolicy policy;
    if (b.check_origin) policy.check_origin = check_origin;
    if (!b.subprotocols.empty()) policy.choose_subprotocol = choose;
    const UpgradeDecision decision = check_upgrade(request, policy);
    if (decision.status != 101) {
        refuse(ws, decision.status, decision.reason);
        return false;
    }
    char deflate_answer[kDeflateHeaderReserve];
    std::string_view extensions;
    if (b.deflate.enabled) agree_deflate(ws, request, deflate_answer, extensions);
    char response[kUpgradeResponseReserve];
    const std::size_t n = write_upgrade_response(response, decision, extensions);
    if (n == 0) {
        refuse(ws, 500, "response too large");
        return false;
    }
    const iovec iov{response, n};
    ws.state_ = WebSocket::State::Open;
    ws.decoder_ = FrameDecoder{};
    ws.decoder_.set_rsv1_allowed((ws.deflate_ & kDeflateOn) != 0);
    if (!write_or_queue(ws, &iov, 1, n)) return false;

    // Frames the client sent right behind its request are decoded after on_open. If they sit in the held
    // chunk, move them to its front; otherwise they are still in the reactor's buffer.
    std::span<char> rest = received.subspan(head_bytes);
    if (ws.held_bytes_ > 0) {
        if (!rest.empty()) std::memmove(ws.held_, rest.data(), rest.size());
        ws.held_bytes_ = static_cast<std::uint32_t>(rest.size());
        if (ws.held_bytes_ == 0) drop_held(ws);
        rest = {};
    }
    arm_timer(ws, b.idle_timeout_seconds);
    ws.subprotocol_ = decision.subprotocol.empty() ? 0 : agreed;
    if (route.data.construct) route.data.construct(reinterpret_cast<unsigned char*>(&ws) + route.data.offset);
    ws.flags_ |= kOpened;
    ShardCounters::add(counters_.connections, 1);
    if (b.on_upgrade) b.on_upgrade(ws, Request{request, {}});
    if (b.on_open && ws.state_ == WebSocket::State::Open) b.on_open(ws);
    if (ws.state_ != WebSocket::State::Open && ws.state_ != WebSocket::State::Closing) return false;
    return handle_frames(ws, rest);
}

// ---- frames -------------------------------------------------------------------------------------------------

bool Shard::handle_frames(WebSocket& ws, std::span<char> bytes) {
    if (ws.held_bytes_ == 0) {
        // The common case: decode in the reactor's buffer, copy nothing. An incomplete header or control frame
        // at the end (at most 139 bytes) is kept for the next read.
        std::size_t consumed = 0;
        if (!feed_decoder(ws, bytes, consumed)) return false;
        if (!(ws.flags_ & kInputDone) && !hold(ws, bytes.subspan(consumed))) {
            fail(ws, close_code::kInternalError, "out of memory");
            return false;
        }
        return true;
    }
    // Bytes held from the previous read come first: append, decode, keep what is left, until the held part is
    // used up; then go on in place.
    for (;;) {
        const std::size_t take = std::min(bytes.size(), pool_.chunk_size() - ws.held_bytes_);
        if (take > 0) std::memcpy(ws.held_ + ws.held_bytes_, bytes.data(), take);
        ws.held_bytes_ += static_cast<std::uint32_t>(take);
        bytes = bytes.subspan(take);
        std::size_t consumed = 0;
        if (!feed_decoder(ws, {ws.held_, ws.held_bytes_}, consumed)) return false;
        if (ws.flags_ & kInputDone) return true;
        std::memmove(ws.held_, ws.held_ + consumed, ws.held_bytes_ - consumed);
        ws.held_bytes_ -= static_cast<std::uint32_t>(consumed);
        if (ws.held_bytes_ == 0) {
            drop_held(ws);
            return bytes.empty() || handle_frames(ws, bytes);
        }
        if (bytes.empty()) return true;
    }
}

// One connection's side of the message layer: the application's callbacks, the counters, and the closing paths.
class Shard::MessageEventsFor final : public MessageEvents {
public:
    MessageEventsFor(Shard& shard, WebSocket& ws) noexcept : shard_(shard), ws_(ws) {}

    bool on_message(std::string_view message, Opcode opcode) override {
        ShardCounters::add(shard_.counters_.messages_in, 1);
        ShardCounters::add(shard_.counters_.bytes_in, message.size());
        const WebSocketBehavior& b = shard_.behavior(ws_);
        if (b.on_message) b.on_message(ws_, message, opcode);
        return ws_.state_ == WebSocket::State::Open || ws_.state_ == WebSocket::State::Closing;
    }
    bool on_ping(std::string_view payload) override {
        const WebSocketBehavior& b = shard_.behavior(ws_);
        if (b.on_ping) b.on_ping(ws_, payload);
        return alive(ws_);
    }
    bool on_pong(std::string_view payload) override {
        ws_.flags_ &= static_cast<std::uint8_t>(~kPingSent);
        const WebSocketBehavior& b = shard_.behavior(ws_);
        if (b.on_pong) b.on_pong(ws_, payload);
        return alive(ws_);
    }
    void on_close(std::uint16_t code, std::string_view reason, bool) override {
        // The peer's close, first or in answer to ours: the connection ends once the echo (if any) is out.
        ws_.flags_ |= kInputDone;
        shard_.notify_close(ws_, code, reason);
        shard_.finish_when_flushed(ws_);
    }
    void send_control(Opcode opcode, std::string_view payload) override { shard_.send_control(ws_, opcode, payload); }
    bool close_sent() const noexcept override { return ws_.state_ != WebSocket::State::Open; }
    Inflater* inflater(bool& keep_context) noexcept override {
        keep_context = !(ws_.deflate_ & kClientNoContext);
        if (!keep_context) return &shard_.shared_inflater_;
        ConnectionExtras* own = shard_.extras(ws_);
        return own ? &own->inflater : nullptr;
    }

private:
    Shard& shard_;
    WebSocket& ws_;
};

bool Shard::feed_decoder(WebSocket& ws, std::span<char> bytes, std::size_t& consumed) {
    MessageEventsFor events(*this, ws);
    const ReadResult r = reader_.feed(routes_.websockets[ws.route_].decoder, ws.decoder_, ws.message_, bytes, events);
    consumed = r.consumed;
    switch (r.status) {
    case ReadStatus::NeedMore: return alive(ws);
    case ReadStatus::Ended: return false;
    case ReadStatus::Closed:
        ws.flags_ |= kInputDone;
        return alive(ws);
    case ReadStatus::Failed: fail(ws, r.close_code, r.reason); return false;
    }
    return false;
}

// ---- permessage-deflate ----------------------------------------------------------------------------------

void Shard::agree_deflate(WebSocket& ws, const HttpRequest& request, std::span<char> answer,
                          std::string_view& extensions) noexcept {
    const DeflateOptions& options = behavior(ws).deflate;
    const DeflateServerWishes wishes{options.dedicated_compressor, options.dedicated_decompressor,
                                     options.server_max_window_bits, options.client_max_window_bits};
    const DeflateAgreement agreed = negotiate_deflate(request, wishes, answer);
    if (!agreed.accepted) return;
    extensions = {answer.data(), agreed.response_size};
    const DeflateParams& p = agreed.params;
    ws.deflate_ = static_cast<std::uint8_t>(kDeflateOn | (p.server_no_context_takeover ? kServerNoContext : 0) |
                                            (p.client_no_context_takeover ? kClientNoContext : 0) |
                                            ((p.server_max_window_bits - 8u) << kWindowShift));
    broadcaster_.count_deflate(p.server_max_window_bits, +1);
}

ConnectionExtras* Shard::extras(WebSocket& ws) noexcept {
    try {
        if (extras_.size() <= ws.index_) extras_.resize(slab_.size());
        std::unique_ptr<ConnectionExtras>& own = extras_[ws.index_];
        if (!own) own = std::make_unique<ConnectionExtras>();
        return own.get();
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

std::string_view Shard::compress_for(WebSocket& ws, std::string_view message) noexcept {
    const unsigned bits = server_window_bits(ws.deflate_);
    const bool keep_context = !(ws.deflate_ & kServerNoContext);
    Deflater* deflater = &shared_deflaters_[bits - kMinDeflateWindowBits];
    if (keep_context) {
        ConnectionExtras* own = extras(ws);
        if (!own) return {};
        deflater = &own->deflater;
        if (ws.deflate_ & kCompressorStale) {
            deflater->reset();
            ws.deflate_ &= static_cast<std::uint8_t>(~kCompressorStale);
        }
    }
    if (!deflater->ready()) {
        const int mem_level = keep_context ? behavior(ws).deflate.mem_level : 8;
        if (!deflater->init(config_.deflate_level, static_cast<int>(bits), mem_level)) return {};
    }
    deflate_out_.clear();
    if (!deflater->compress(message, deflate_out_, keep_context)) return {};
    return deflate_out_.view();
}

// ---- output --------------------------------------------------------------------------------------------------

SendStatus Shard::send(WebSocket& ws, std::string_view message, Opcode opcode) noexcept {
    if (ws.state_ != WebSocket::State::Open) return SendStatus::Dropped;
    const WebSocketBehavior& b = behavior(ws);
    if (ws.out_.bytes() > b.max_backpressure_bytes) {
        ShardCounters::add(counters_.dropped, 1);
        if (b.slow_policy == SlowPolicy::Close) {
            ShardCounters::add(counters_.slow_closed, 1);
            fail(ws, close_code::kPolicyViolation, "slow consumer");
        }
        return SendStatus::Dropped;
    }
    std::string_view payload = message;
    if ((ws.deflate_ & kDeflateOn) && message.size() >= config_.deflate_min_bytes) {
        const std::string_view compressed = compress_for(ws, message);
        if (!compressed.empty()) payload = compressed;
    }
    const bool rsv1 = payload.data() != message.data();
    char header[kMaxFrameHeaderBytes];
    const std::size_t header_length = encode_frame_header(header, opcode, payload.size(), true, rsv1);
    const iovec iov[2] = {{header, header_length}, {const_cast<char*>(payload.data()), payload.size()}};
    const bool written = write_or_queue(ws, iov, 2, header_length + payload.size());
    deflate_out_.trim(kScratchKeepBytes);
    if (!written) return SendStatus::Dropped;
    ShardCounters::add(counters_.messages_out, 1);
    ShardCounters::add(counters_.bytes_out, header_length + payload.size());
    return ws.out_.empty() ? SendStatus::Success : SendStatus::Backpressure;
}

bool Shard::write_or_queue(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept {
    if (!tls_) return write_raw(ws, iov, count, total);
    TlsLinkFor link(*this, ws);
    if (tls_pump_->send(session(ws), iov, count, link)) return true;
    terminate(ws);  // could not encrypt (the link's own failures have ended the connection already)
    return false;
}

bool Shard::write_raw(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept {
    if (ws.out_.empty() && !(ws.flags_ & kSendInFlight)) {
        const long n = reactor_->try_write(ws.fd_, iov, count);
        if (n < 0) {
            terminate(ws);
            return false;
        }
        if (static_cast<std::size_t>(n) == total) return true;
        if (!queue(ws, iov, count, static_cast<std::size_t>(n))) return false;
        start_send(ws);
        return true;
    }
    if (!queue(ws, iov, count, 0)) return false;
    if (!(ws.flags_ & kSendInFlight)) start_send(ws);
    return true;
}

bool Shard::queue(WebSocket& ws, const iovec* iov, int count, std::size_t skip) noexcept {
    if (ws.out_.push_copy(iov, count, skip)) return true;
    terminate(ws);
    return false;
}

void Shard::start_send(WebSocket& ws) noexcept {
    // Everything pending leaves in one sendmsg (up to kMaxSendIovecs pieces).
    iovec iov[net::kMaxSendIovecs];
    const int count = ws.out_.gather(iov, net::kMaxSendIovecs);
    ws.flags_ |= kSendInFlight;
    reactor_->send(token_of(ws), ws.fd_, iov, count);
}

void Shard::add_to_batch(WebSocket& ws) noexcept {
    if (batch_.size() == kBatchWrites || batch_iov_used_ + net::kMaxSendIovecs > kBatchIovecs) write_batch();
    iovec* iov = batch_iov_.get() + batch_iov_used_;
    const int count = ws.out_.gather(iov, net::kMaxSendIovecs);
    batch_iov_used_ += static_cast<std::size_t>(count);
    batch_.push_back({ws.fd_, count, iov, 0});
    batch_owners_.push_back(&ws);
}

void Shard::write_batch() noexcept {
    // What each connection has queued goes out now if its socket takes it; the rest through the reactor's send.
    if (batch_.empty()) return;
    reactor_->try_write_batch(batch_);
    // Every result is settled before any connection is ended: terminate() runs on_close, whose code may send to
    // a connection further down the batch, and must find its queue already free of the bytes just written.
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        WebSocket& ws = *batch_owners_[i];
        if (batch_[i].result < 0) continue;
        ws.out_.consume(static_cast<std::size_t>(batch_[i].result));
        if (!ws.out_.empty()) start_send(ws);
    }
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        if (batch_[i].result < 0) terminate(*batch_owners_[i]);
    }
    batch_.clear();
    batch_owners_.clear();
    batch_iov_used_ = 0;
}

void Shard::on_sent(std::uint64_t token, int result) {
    WebSocket* found = lookup(token);
    if (!found) return;
    WebSocket& ws = *found;
    ws.flags_ &= static_cast<std::uint8_t>(~kSendInFlight);
    if (!alive(ws)) return;
    if (result < 0) {
        terminate(ws);
        return;
    }
    ws.out_.consume(static_cast<std::size_t>(result));
    if (!ws.out_.empty()) {
        start_send(ws);
        return;
    }
    if (ws.flags_ & kCloseWhenFlushed) {
        finish_when_flushed(ws);
        return;
    }
    const WebSocketBehavior& b = behavior(ws);
    if (ws.state_ == WebSocket::State::Open && b.on_drain) b.on_drain(ws);
}

void Shard::send_control(WebSocket& ws, Opcode opcode, std::string_view payload) noexcept {
    char frame[kMaxControlFrameBytes];
    const std::size_t n = encode_control_frame(frame, opcode, payload);
    const iovec iov{frame, n};
    write_or_queue(ws, &iov, 1, n);  // control frames are never dropped for backpressure
}

// ---- topics and broadcast fan-out --------------------------------------------------------------------------

bool Shard::subscribe(WebSocket& ws, std::string_view topic) noexcept {
    if (ws.state_ != WebSocket::State::Open || topic.empty() || topic.size() > kMaxTopicBytes) return false;
    try {
        return topics_.subscribe(ws, topic);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

bool Shard::unsubscribe(WebSocket& ws, std::string_view topic) noexcept { return topics_.unsubscribe(ws, topic); }

bool Shard::subscribed(const WebSocket& ws, std::string_view topic) const noexcept {
    return topics_.subscribed(ws, topic);
}

PublishStatus Shard::publish(const WebSocket& ws, std::string_view topic, std::string_view message,
                             Opcode opcode) noexcept {
    if (ws.state_ != WebSocket::State::Open) return PublishStatus::NotRunning;
    return broadcaster_.publish(topic, message, opcode, std::chrono::milliseconds{0},
                                {this, static_cast<std::uint16_t>(index_), token_of(ws)});
}

void Shard::notify_broadcast() noexcept {
    if (!broadcast_pending_.exchange(true, std::memory_order_acq_rel)) reactor_->wake();
}

ShardStats Shard::stats() const noexcept {
    ShardStats s;
    s.connections = counters_.connections.load(std::memory_order_relaxed);
    s.messages_in = counters_.messages_in.load(std::memory_order_relaxed);
    s.bytes_in = counters_.bytes_in.load(std::memory_order_relaxed);
    s.messages_out = counters_.messages_out.load(std::memory_order_relaxed);
    s.bytes_out = counters_.bytes_out.load(std::memory_order_relaxed);
    s.dropped = counters_.dropped.load(std::memory_order_relaxed);
    s.slow_closed = counters_.slow_closed.load(std::memory_order_relaxed);
    s.subscriptions = topics_.subscriptions();
    // Published messages not fanned out yet: those still in the ring, and those taken from it, under way.
    s.ring_lag = broadcaster_.ring().lag(index_) + counters_.taken_broadcasts.load(std::memory_order_relaxed);
    s.ring_stalls = broadcaster_.ring().stalls(index_);
    return s;
}

void Shard::drain_broadcasts() noexcept {
    // Clear the flag before reading the ring: a publish that lands after this wakes the shard again.
    broadcast_pending_.exchange(false, std::memory_order_acq_rel);
    // What the ring holds is taken, up to a bound: past it the ring fills and publishers meet backpressure, as
    // they should when this shard cannot keep up.
    fan_out_.take(broadcaster_.ring(), index_);
    fan_out_.turn(topics_, [this](WebSocket& ws, const BroadcastItem& item) { return stage_broadcast(ws, item); });
    counters_.taken_broadcasts.store(fan_out_.taken(), std::memory_order_relaxed);
    flush_staged();
}

bool Shard::stage_broadcast(WebSocket& ws, const BroadcastItem& item) noexcept {
    if (item.exclude_shard == index_ && token_of(ws) == item.exclude_token) return false;
    const std::uint8_t deflate = ws.deflate_;
    const bool compressed = item.deflated_size && (deflate & kDeflateOn) &&
                            server_window_bits(deflate) >= item.deflate_bits;
    if (compressed && !(deflate & kServerNoContext)) ws.deflate_ |= kCompressorStale;
    return stage(ws, item.bytes, compressed ? item.deflated_frame() : item.frame());
}

bool Shard::stage(WebSocket& ws, SharedBytes* bytes, std::string_view frame) noexcept {
    const auto size = static_cast<std::uint32_t>(frame.size());
    if (ws.state_ != WebSocket::State::Open) return false;
    const WebSocketBehavior& b = behavior(ws);
    if (ws.out_.bytes() > b.max_backpressure_bytes) {
        ShardCounters::add(counters_.dropped, 1);
        if (b.slow_policy == SlowPolicy::Close) too_slow_.push_back(&ws);
        return false;
    }
    if (tls_) {
        // Each TLS subscriber encrypts its own copy; the ciphertext collects in its session and leaves in one write
        // at the end of the batch. No reference to the frame is kept.
        const bool encrypted = session(ws).write({frame.data(), frame.size()});
        if (encrypted) mark_staged(ws, size);
        else ShardCounters::add(counters_.dropped, 1);
        return false;
    }
    if (!ws.out_.push_shared(bytes, frame.data(), size)) {  // its reference is counted by fan_out_turn()
        ShardCounters::add(counters_.dropped, 1);
        return false;
    }
    mark_staged(ws, size);
    return true;
}

void Shard::mark_staged(WebSocket& ws, std::uint32_t size) noexcept {
    ShardCounters::add(counters_.messages_out, 1);
    ShardCounters::add(counters_.bytes_out, size);
    if (!(ws.flags_ & kStaged)) {
        ws.flags_ |= kStaged;
        staged_.push_back(&ws);
    }
}

void Shard::flush_staged() noexcept {
    // One write per subscriber for everything the batch queued for it, the writes of many subscribers handed to
    // the kernel together. A connection already waiting on a send has its new frames gathered into the next one
    // when that completes. terminate() in write_batch() frees no slot (on_closed() does, from the loop), so the
    // listed connections stay valid until their results are in.
    for (WebSocket* ws : staged_) {
        ws->flags_ &= static_cast<std::uint8_t>(~kStaged);
        if (!alive(*ws)) continue;
        if (tls_) flush_tls(*ws);
        else if (!(ws->flags_ & kSendInFlight) && !ws->out_.empty()) add_to_batch(*ws);
    }
    write_batch();
    staged_.clear();
    for (WebSocket* ws : too_slow_) {
        if (ws->state_ != WebSocket::State::Open) continue;  // listed twice, or closed by a failed write
        ShardCounters::add(counters_.slow_closed, 1);
        fail(*ws, close_code::kPolicyViolation, "slow consumer");
    }
    too_slow_.clear();
}

// ---- closing ---------------------------------------------------------------------------------------------------

void Shard::close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (ws.state_ != WebSocket::State::Open) return;
    char payload[kMaxControlPayload];
    const std::size_t n = encode_close_payload(payload, code, reason);
    send_control(ws, Opcode::Close, {payload, n});
    if (!alive(ws)) return;
    ws.close_code_ = code;
    ws.state_ = WebSocket::State::Closing;
    arm_timer(ws, kCloseGraceSeconds);  // the peer has this long to answer
}

void Shard::fail(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (ws.state_ == WebSocket::State::Open) {
        char payload[kMaxControlPayload];
        const std::size_t n = encode_close_payload(payload, code, reason);
        send_control(ws, Opcode::Close, {payload, n});
        ws.close_code_ = code;
    }
    ws.flags_ |= kInputDone;
    notify_close(ws, code, reason);
    finish_when_flushed(ws);
}

void Shard::finish_when_flushed(WebSocket& ws) noexcept {
    if (!alive(ws)) return;
    ws.flags_ |= kCloseWhenFlushed | kInputDone;
    if (ws.state_ == WebSocket::State::Open) ws.state_ = WebSocket::State::Closing;
    if (!ws.out_.empty() || (ws.flags_ & kSendInFlight)) {
        if (!(ws.flags_ & kLingering)) arm_timer(ws, kCloseGraceSeconds);  // a peer that never reads
        return;
    }
    if (ws.flags_ & kLingering) return;
    if (send_close_notify(ws)) return;  // on_sent() comes back here once it has gone
    if (!alive(ws)) return;
    // Everything is sent. Shut the write side and wait for the peer's end of stream: closing with unread input
    // would reset the connection and could destroy the close frame or response before the peer reads it.
    ws.flags_ |= kLingering;
    if (ws.state_ == WebSocket::State::Http) ws.state_ = WebSocket::State::Closing;
    ::shutdown(ws.fd_, SHUT_WR);
    arm_timer(ws, kCloseGraceSeconds);
}

void Shard::notify_close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (ws.state_ == WebSocket::State::Open) ws.state_ = WebSocket::State::Closing;
    if (!(ws.flags_ & kOpened) || (ws.flags_ & kCloseNotified)) return;
    ws.flags_ |= kCloseNotified;
    ShardCounters::add(counters_.connections, static_cast<std::uint64_t>(-1));
    const WebSocketRoute& route = routes_.websockets[ws.route_];
    if (route.behavior.on_close) route.behavior.on_close(ws, code, reason);
    topics_.unsubscribe_all(ws);  // after on_close, which may still look at them
    if (route.data.destroy) route.data.destroy(reinterpret_cast<unsigned char*>(&ws) + route.data.offset);
}

void Shard::terminate(WebSocket& ws) noexcept {
    if (!alive(ws) || ws.state_ == WebSocket::State::Free) return;
    notify_close(ws, close_code::kAbnormal, {});
    wheel_.cancel(ws.timer_);
    ws.state_ = WebSocket::State::Closed;
    reactor_->close(token_of(ws), ws.fd_);  // on_closed() frees the rest once nothing is in flight
}

void Shard::on_closed(std::uint64_t token) {
    WebSocket* ws = lookup(token);
    if (!ws) return;
    ws->out_.clear();
    drop_held(*ws);
    ws->message_.release();
    release_slot(*ws);
}

// ---- timers ----------------------------------------------------------------------------------------------------

void Shard::arm_timer(WebSocket& ws, unsigned seconds) noexcept {
    if (seconds == 0) {
        wheel_.cancel(ws.timer_);
        return;
    }
    wheel_.add(ws.timer_, static_cast<std::uint64_t>(seconds) * (1000 / kTickMs));
}

void Shard::on_timer(WebSocket& ws) noexcept {
    switch (ws.state_) {
    case WebSocket::State::Http:  // the handshake took too long
        terminate(ws);
        break;
    case WebSocket::State::Open:
        if (!(ws.flags_ & kPingSent)) {
            // Idle: ask for a sign of life; no answer by the next timeout closes the connection.
            ws.flags_ |= kPingSent;
            send_control(ws, Opcode::Ping, {});
            if (alive(ws)) arm_timer(ws, behavior(ws).idle_timeout_seconds);
        } else {
            fail(ws, close_code::kGoingAway, "idle timeout");
        }
        break;
    case WebSocket::State::Closing:  // the peer did not finish the close in time
        terminate(ws);
        break;
    default: break;
    }
}

// ---- the loop ---------------------------------------------------------------------------------------------------

void Shard::request_stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    if (reactor_) reactor_->wake();
}

void Shard::defer(std::function<void()> fn) {
    {
        std::lock_guard lock(deferred_mutex_);
        deferred_.push_back(std::move(fn));
    }
    reactor_->wake();
}

void Shard::on_wake() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(deferred_mutex_);
        batch.swap(deferred_);
    }
    for (auto& fn : batch) fn();
    drain_broadcasts();
}

void Shard::begin_stop() noexcept {
    stopping_ = true;
    stop_deadline_ms_ = monotonic_ms() + config_.stop_grace_ms;
    if (listener_fd_ >= 0) {
        reactor_->close_listener(listener_fd_);  // no new connections
        listener_fd_ = -1;
    }
    for (std::uint32_t i = 0; i < slab_.size(); ++i) {
        WebSocket& ws = slab_.slot(i);
        if (ws.state_ == WebSocket::State::Open) close(ws, close_code::kGoingAway, "server stopping");
        else if (ws.state_ == WebSocket::State::Http) terminate(ws);
    }
}

void Shard::run() {
    pool_.bind_to_current_thread();
    t_running_shard = this;
    const long long start = monotonic_ms();
    for (;;) {
        if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
        if (stopping_ && (slab_.live() == 0 || monotonic_ms() >= stop_deadline_ms_)) break;
        const long long next_tick = start + static_cast<long long>(wheel_.now() + 1) * kTickMs;
        // A fan-out under way, or broadcasts left in the ring (published by this thread's callbacks, or more than
        // were taken): the loop turns without waiting and serves the next part.
        const bool more = fan_out_.busy() || broadcaster_.ring().ready(index_);
        if (tls_pump_) tls_pump_->begin_turn();
        if (!tls_waiting_.empty()) run_waiting_handshakes();
        const bool waiting = !tls_waiting_.empty();
        const long long wait = more || waiting ? 0 : std::max(0LL, next_tick - monotonic_ms());
        if (more) drain_broadcasts();
        const int handled = reactor_->run_once(static_cast<int>(wait));
        if (handled < 0) {
            SURGE_LOG_ERROR("shard %u: reactor failed: %s", index_, std::strerror(-handled));
            break;
        }
        const auto tick = static_cast<std::uint64_t>((monotonic_ms() - start) / kTickMs);
        wheel_.advance_to(tick, [this](TimerNode& node) { on_timer(*reinterpret_cast<WebSocket*>(&node)); });
    }
    // Past the grace period: end what is left, and let the reactor report every close.
    for (std::uint32_t i = 0; i < slab_.size(); ++i) terminate(slab_.slot(i));
    fan_out_.drop_all();
    counters_.taken_broadcasts.store(0, std::memory_order_relaxed);
    for (int round = 0; round < 100 && slab_.live() > 0; ++round) reactor_->run_once(0);
    if (slab_.live() > 0) {
        SURGE_LOG_WARN("shard %u: %zu connections still had operations in flight at exit", index_, slab_.live());
    }
    t_running_shard = nullptr;
}

}  // namespace surge::detail

namespace surge {

static_assert(std::is_standard_layout_v<WebSocket>, "the timer node must be WebSocket's first member");
static_assert(std::is_trivially_destructible_v<WebSocket>, "slab blocks are freed without running destructors");
// Two slots per cache line pair, and a 256-slot block of 32 KiB that the allocator serves without rounding up:
// a byte more here costs every idle connection far more than a byte (bench/idle-memory.sh).
static_assert(sizeof(WebSocket) == 128, "the slot's size is part of the per-connection memory budget");

SendStatus WebSocket::send(std::string_view message, Opcode opcode) noexcept {
    return detail::Shard::running().send(*this, message, opcode);
}

void WebSocket::close(std::uint16_t code, std::string_view reason) noexcept {
    detail::Shard::running().close(*this, code, reason);
}

unsigned WebSocket::shard_index() const noexcept { return detail::Shard::running().index(); }

std::string_view WebSocket::subprotocol() const noexcept { return detail::Shard::running().subprotocol_of(*this); }

bool WebSocket::subscribe(std::string_view topic) noexcept { return detail::Shard::running().subscribe(*this, topic); }

bool WebSocket::unsubscribe(std::string_view topic) noexcept {
    return detail::Shard::running().unsubscribe(*this, topic);
}

bool WebSocket::subscribed(std::string_view topic) const noexcept {
    return detail::Shard::running().subscribed(*this, topic);
}

PublishStatus WebSocket::publish(std::string_view topic, std::string_view message, Opcode opcode) noexcept {
    return detail::Shard::running().publish(*this, topic, message, opcode);
}


}  // namespace surge
