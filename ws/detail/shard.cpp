#include "surge/ws/detail/shard.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "surge/core/clock.hpp"
#include "surge/core/log.hpp"
#include "surge/net/socket_io.hpp"
#include "surge/ws/detail/connection_state.hpp"
#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/upgrade.hpp"

namespace surge::detail {
namespace {

constexpr long long kTickMs = 100;
// At the handshake limit, the oldest handshake is ended only if it has taken this long (a slow client holding
// it); younger ones are a burst of real clients, all let in.
constexpr std::uint64_t kEvictableHandshakeTicks = 1000 / kTickMs;

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
             std::shared_ptr<const net::TlsContext> tls, int listener_fd, Admission& admission)
    : index_(index),
      config_(config),
      routes_(routes),
      broadcaster_(broadcaster),
      tls_(std::move(tls)),
      listener_fd_(listener_fd),
      admission_(admission),
      held_limit_(config.max_header_bytes + config.max_body_bytes),
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
    reactor_->set_wait_batch(config_.wait_batch, config_.wait_batch_us);
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
    ws.output_flags_ = 0;
    forget_joining(ws, {});
    set_delivery(ws, Delivery::Raw);
    if (event_stream(ws)) broadcaster_.count_event_stream(-1);
    ws.delivery_ = 0;
    uncount_address(ws);
    end_handshake(ws);
    admission_.connections.remove();  // every slot in use was counted at accept
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
    if (stopping_) {
        ::close(fd);
        return;
    }
    if (!admission_.connections.try_add()) {
        ShardCounters::add(counters_.refused_at_capacity, 1);
        refuse_accepted(fd, 503, "the server is at its connection limit");
        return;
    }
    net::Endpoint from;
    const bool by_address = admission_.per_address && net::peer_address(fd, from);
    const net::IpAddress& peer = from.ip;
    if (by_address && !admission_.per_address->try_add(peer)) {
        admission_.connections.remove();
        ShardCounters::add(counters_.refused_per_address, 1);
        refuse_accepted(fd, 429, "too many connections from this address");
        return;
    }
    if (config_.max_handshakes_per_shard && handshakes_ >= config_.max_handshakes_per_shard) {
        end_slow_handshake();
    }
    net::set_no_delay(fd);  // pushed messages go out at once
    WebSocket& ws = slab_.allocate();  // counted in admission_.connections from here: release_slot() uncounts
    ws.fd_ = fd;
    ws.state_ = WebSocket::State::Http;
    bool started = true;
    try {
        if (by_address) {
            if (peer_by_slot_.size() <= ws.index_) peer_by_slot_.resize(slab_.size());
            peer_by_slot_[ws.index_] = peer;
            ws.admission_ |= kAddressCounted;
        }
        begin_handshake(ws);
    } catch (const std::bad_alloc&) {
        if (by_address && !(ws.admission_ & kAddressCounted)) admission_.per_address->remove(peer);
        started = false;
    }
    if (started && tls_) {
        ConnectionExtras* own = extras(ws);
        started = own && own->tls.init(*tls_);
    }
    if (started) {
        arm_timer(ws, config_.handshake_timeout_seconds);  // under TLS, the TLS handshake counts too
        started = reactor_->add_connection(fd, token_of(ws)) == 0;
    }
    if (!started) {
        ::close(fd);
        release_slot(ws);
    }
}

void Shard::refuse_accepted(int fd, int status, std::string_view reason) noexcept {
    if (config_.on_access) {
        AccessRecord record;  // no request yet: the peer, and no method or target
        record.status = status;
        record.body_bytes = reason.size() + 1;
        (void)net::peer_address(fd, record.client);
        config_.on_access(record);  // like every callback, noexcept (ws/server.hpp)
    }
    SURGE_LOG_DEBUG("refused a connection at accept: %d %.*s", status, static_cast<int>(reason.size()), reason.data());
    char response[256];
    const std::size_t n = write_refusal(response, status, reason);
    const iovec iov{response, n};
    // A fresh socket takes it at once; if not (or under TLS, where it cannot be read), the close says enough.
    if (!tls_) (void)reactor_->try_write(fd, &iov, 1);
    ::close(fd);
}

void Shard::uncount_address(WebSocket& ws) noexcept {
    if (!(ws.admission_ & kAddressCounted)) return;
    ws.admission_ &= static_cast<std::uint8_t>(~kAddressCounted);
    admission_.per_address->remove(peer_by_slot_[ws.index_]);
}

void Shard::begin_handshake(WebSocket& ws) {
    // Entries of connections no longer in their handshake are dropped once they reach the front.
    while (!handshake_order_.empty()) {
        const WebSocket* oldest = lookup(handshake_order_.front().token);
        if (oldest && (oldest->admission_ & kHandshakeCounted)) break;
        handshake_order_.pop_front();
    }
    handshake_order_.push_back({token_of(ws), wheel_.now()});
    ws.admission_ |= kHandshakeCounted;
    ++handshakes_;
    counters_.handshakes.store(handshakes_, std::memory_order_relaxed);
}

void Shard::end_handshake(WebSocket& ws) noexcept {
    if (!(ws.admission_ & kHandshakeCounted)) return;
    ws.admission_ &= static_cast<std::uint8_t>(~kHandshakeCounted);
    --handshakes_;
    counters_.handshakes.store(handshakes_, std::memory_order_relaxed);
}

std::uint64_t Shard::handshake_started(const WebSocket& ws, std::uint64_t queued_tick) const noexcept {
    // The handshake timer is armed at accept and again at each keep-alive answer: its expiry says when the
    // request now awaited began. Without a timer (handshake_timeout_seconds 0), the queued tick is all there is.
    const std::uint64_t timeout = std::uint64_t{config_.handshake_timeout_seconds} * (1000 / kTickMs);
    if (!ws.timer_.armed() || ws.timer_.expiry < timeout) return queued_tick;
    return std::max(queued_tick, ws.timer_.expiry - timeout);
}

void Shard::end_slow_handshake() noexcept {
    // Each pass either drops an entry or moves one to the back with a later tick, so it ends.
    for (std::size_t passes = handshake_order_.size(); passes > 0 && !handshake_order_.empty(); --passes) {
        const HandshakeStart oldest = handshake_order_.front();
        WebSocket* ws = lookup(oldest.token);
        if (!ws || !(ws->admission_ & kHandshakeCounted)) {
            handshake_order_.pop_front();
            continue;
        }
        if (wheel_.now() - oldest.tick < kEvictableHandshakeTicks) return;  // a burst: every one is young
        // A keep-alive connection was queued at its accept; if its current request began less than a second
        // ago it is not slow: it goes to the back, queued at that start.
        const std::uint64_t started = handshake_started(*ws, oldest.tick);
        if (wheel_.now() - started < kEvictableHandshakeTicks) {
            handshake_order_.pop_front();
            try {
                handshake_order_.push_back({oldest.token, started});
                continue;
            } catch (const std::bad_alloc&) {
                // no room to requeue it: it is ended like a slow one
            }
        } else {
            handshake_order_.pop_front();
        }
        ShardCounters::add(counters_.handshakes_evicted, 1);
        // Under TLS the handshake may not be done, so there is no channel for an answer: the close is it.
        if (tls_) terminate(*ws);
        else refuse(*ws, 408, "request timeout: the server needs room for new handshakes");
        end_handshake(*ws);  // whatever path the refusal took
        return;
    }
}

bool Shard::on_data(std::uint64_t token, std::span<char> bytes) {
    WebSocket* ws = lookup(token);
    if (!ws || !alive(*ws)) return false;
    corked_ = ws;  // what this read is answered with leaves together, once it is handled
    const bool open = tls_ ? on_tls_data(*ws, bytes) : on_plaintext(*ws, bytes);
    const bool flushed = flush_cork();
    corked_ = nullptr;
    return open && flushed;
}

bool Shard::on_plaintext(WebSocket& ws, std::span<char> bytes) {
    if (ws.flags_ & kInputDone) return true;  // closing: read and discard until the peer's end of stream
    if (ws.state_ == WebSocket::State::Http) return handle_http(ws, bytes);
    if (event_stream(ws)) return true;  // one-way: what an event-stream client sends is read and dropped
    // Input is a sign of life only from a peer that also reads: one that sends while what it was sent piles up
    // (a ping flood that never reads the pongs) times out like a silent one: a ping, then 1001.
    if (ws.state_ == WebSocket::State::Open && ws.out_.empty()) {
        ws.flags_ &= static_cast<std::uint8_t>(~kPingSent);
        arm_timer(ws, behavior(ws).idle_timeout_seconds);
    }
    return handle_frames(ws, bytes);
}

void Shard::on_recv_end(std::uint64_t token, int result) {
    WebSocket* ws = lookup(token);
    if (!ws) return;
    // The peer only shut its side (0, not an error) while an answer it is owed is still going out: a plain HTTP
    // response, or what a close sends (a close frame, a refusal). The answer is finished, then the connection
    // ends. An open WebSocket's end of stream without a close frame fails it, pending output or not.
    const bool answering = ws->state_ == WebSocket::State::Http || (ws->flags_ & kCloseWhenFlushed);
    const bool pending = !ws->out_.empty() || (ws->flags_ & kSendInFlight);
    if (result == 0 && answering && pending && !(ws->flags_ & kLingering)) {
        ws->output_flags_ |= kPeerEnded;
        finish_when_flushed(*ws);
        return;
    }
    terminate(*ws);
}

// ---- closing ---------------------------------------------------------------------------------------------------

void Shard::close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (ws.state_ != WebSocket::State::Open) return;
    if (event_stream(ws)) {  // no closing handshake: what is queued goes out, then the connection ends
        notify_close(ws, code, reason);
        finish_when_flushed(ws);
        return;
    }
    char payload[kMaxControlPayload];
    const std::size_t n = encode_close_payload(payload, code, reason);
    send_control(ws, Opcode::Close, {payload, n});
    if (!alive(ws)) return;
    ws.close_code_ = code;
    ws.state_ = WebSocket::State::Closing;
    arm_timer(ws, kCloseGraceSeconds);  // the peer has this long to answer
}

void Shard::fail(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (log_enabled(LogLevel::Debug) && ws.state_ == WebSocket::State::Open) {
        SURGE_LOG_DEBUG("closing %s: %u %.*s", remote_address_of(ws).text().c_str(), code,
                        static_cast<int>(reason.size()), reason.data());
    }
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
    if (&ws == corked_ && !flush_cork()) return;
    if (!alive(ws)) return;
    end_handshake(ws);  // answered or refused: no longer a handshake in progress
    ws.flags_ |= kCloseWhenFlushed | kInputDone;
    if (ws.state_ == WebSocket::State::Open) ws.state_ = WebSocket::State::Closing;
    if (!ws.out_.empty() || (ws.flags_ & kSendInFlight)) {
        if (!(ws.flags_ & kLingering)) arm_timer(ws, kCloseGraceSeconds);  // a peer that never reads
        return;
    }
    if (ws.flags_ & kLingering) return;
    if (send_close_notify(ws)) return;  // on_sent() comes back here once it has gone
    if (!alive(ws)) return;
    if (ws.output_flags_ & kPeerEnded) {  // its end of stream has come: nothing to linger for
        terminate(ws);
        return;
    }
    // Everything is sent. Shut the write side and wait for the peer's end of stream: closing with unread input
    // would reset the connection and could destroy the close frame or response before the peer reads it.
    ws.flags_ |= kLingering;
    if (ws.state_ == WebSocket::State::Http) ws.state_ = WebSocket::State::Closing;
    net::shutdown_write(ws.fd_);
    arm_timer(ws, kCloseGraceSeconds);
}

void Shard::notify_close(WebSocket& ws, std::uint16_t code, std::string_view reason) noexcept {
    if (ws.state_ == WebSocket::State::Open) ws.state_ = WebSocket::State::Closing;
    if (!(ws.flags_ & kOpened) || (ws.flags_ & kCloseNotified)) return;
    ws.flags_ |= kCloseNotified;
    ShardCounters::add(counters_.connections, static_cast<std::uint64_t>(-1));
    SURGE_LOG_TRACE("shard %u: closed %s: %u", index_, remote_address_of(ws).text().c_str(), code);
    const auto* counted = std::find(std::begin(kCountedCloseCodes), std::end(kCountedCloseCodes), code);
    ShardCounters::add(counters_.closes[static_cast<std::size_t>(counted - std::begin(kCountedCloseCodes))], 1);
    const WebSocketRoute& route = routes_.websockets[ws.route_];
    if (route.behavior.on_close) route.behavior.on_close(ws, code, reason);
    forget_joining(ws, {});
    topics_.unsubscribe_all(ws);  // after on_close, which may still look at them
    if (route.data.destroy) route.data.destroy(reinterpret_cast<unsigned char*>(&ws) + route.data.offset);
}

void Shard::terminate(WebSocket& ws) noexcept {
    if (!alive(ws) || ws.state_ == WebSocket::State::Free) return;
    if (&ws == corked_) {  // the connection is cut: what it was about to be sent goes nowhere
        corked_ = nullptr;
        cork_.clear();
        plain_cork_.clear();
    }
    notify_close(ws, close_code::kAbnormal, {});
    wheel_.cancel(ws.timer_);
    uncount_address(ws);
    end_handshake(ws);
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
        if (event_stream(ws)) {
            // A comment line keeps proxies from cutting an idle stream; the client never answers, so a stream
            // that cannot be written is found by the slow policy, not by silence.
            static constexpr char kKeepAlive[] = ":\n\n";
            if (ws.out_.empty()) {
                const iovec iov{const_cast<char*>(kKeepAlive), 3};
                write_or_queue(ws, &iov, 1, 3);
            }
            if (alive(ws)) arm_timer(ws, behavior(ws).idle_timeout_seconds);
            break;
        }
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
    SURGE_LOG_INFO("shard %u stopping: %zu connections to close (grace %u ms)", index_, slab_.live(),
                   config_.stop_grace_ms);
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
    t_running_shard = this;
    const long long start = monotonic_ms();
    for (;;) {
        if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
        if (stopping_ && (slab_.live() == 0 || monotonic_ms() >= stop_deadline_ms_)) break;
        const long long next_tick = start + static_cast<long long>(wheel_.now() + 1) * kTickMs;
        // A fan-out under way, or broadcasts left in the ring (published by this thread's callbacks, or more than
        // were taken): the loop turns without waiting and serves the next part.
        const bool more = fan_out_.busy() || broadcaster_.ring().ready(index_) || !staged_.empty();
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

net::Endpoint WebSocket::remote_address() const noexcept { return detail::Shard::running().remote_address_of(*this); }

SubscribeStatus WebSocket::subscribe(std::string_view topic) noexcept {
    return detail::Shard::running().subscribe(*this, topic);
}

SubscribeResult WebSocket::subscribe(std::string_view topic, const SubscribeOptions& options) {
    return detail::Shard::running().subscribe(*this, topic, options);
}

void WebSocket::set_delivery(Delivery delivery) noexcept { detail::Shard::running().set_delivery(*this, delivery); }

bool WebSocket::unsubscribe(std::string_view topic) noexcept {
    return detail::Shard::running().unsubscribe(*this, topic);
}

bool WebSocket::subscribed(std::string_view topic) const noexcept {
    return detail::Shard::running().subscribed(*this, topic);
}

PublishResult WebSocket::publish(std::string_view topic, std::string_view message, Opcode opcode) noexcept {
    return detail::Shard::running().publish(*this, topic, message, opcode);
}


}  // namespace surge
