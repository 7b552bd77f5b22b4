// The shard's output side: sends and control frames, the write path (a try first, then the send queue and the
// reactor's send), permessage-deflate for sends, and the broadcast fan-out's staging and batched writes, with the
// pub/sub calls a connection makes. Layer: ws (private to the server).
#include "surge/ws/detail/shard.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "surge/core/clock.hpp"
#include "surge/net/socket_io.hpp"
#include "surge/ws/detail/broker_link.hpp"
#include "surge/ws/detail/connection_state.hpp"
#include "surge/ws/envelope.hpp"
#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/frame_header.hpp"

namespace surge::detail {

namespace {
// Scratch buffers past this size are freed after use, so one large message does not pin its memory.
constexpr std::size_t kScratchKeepBytes = 256 * 1024;
}  // namespace

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
    if (event_stream(ws)) {  // the bytes as they are: the caller formats its events
        if (&ws == opening_stream_) {  // on_upgrade: behind the head, which has not gone yet
            try {
                opening_bytes_.append(message);
            } catch (const std::bad_alloc&) {
                return SendStatus::Dropped;
            }
            return SendStatus::Success;
        }
        const iovec raw{const_cast<char*>(message.data()), message.size()};
        if (!write_or_queue(ws, &raw, 1, message.size())) return SendStatus::Dropped;
        ShardCounters::add(counters_.messages_out, 1);
        ShardCounters::add(counters_.bytes_out, message.size());
        return ws.out_.empty() ? SendStatus::Success : SendStatus::Backpressure;
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
    if (&ws == corked_) {
        if (take_into_cork(plain_cork_, ws, iov, count, total)) return true;
        if (!flush_cork()) return false;
    }
    return write_tls(ws, iov, count);
}

bool Shard::write_raw(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept {
    if (&ws == corked_) {
        if (take_into_cork(cork_, ws, iov, count, total)) return true;
        // Only the bytes for the wire go first. Under TLS these may be the session's records on their way out
        // (TlsPump::flush() is inside its link): encrypting the plaintext cork here would write to the session in
        // the middle of that, and the plaintext comes after whatever the session emits now anyway.
        if (!send_cork()) return false;
    }
    return write_through(ws, iov, count, total);
}

bool Shard::take_into_cork(CorkBuffer& cork, const WebSocket& ws, const iovec* iov, int count,
                           std::size_t total) const noexcept {
    return &ws == corked_ && total <= net::kCoalesceBytes && ws.out_.empty() && !(ws.flags_ & kSendInFlight) &&
           cork.take(iov, count, total);
}

bool Shard::write_through(WebSocket& ws, const iovec* iov, int count, std::size_t total) noexcept {
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

bool Shard::flush_cork() noexcept {
    if (!plain_cork_.empty()) {
        const iovec plain = plain_cork_.drain();
        if (!write_tls(*corked_, &plain, 1)) return false;  // its record goes to the cork below, or past it
    }
    return send_cork();
}

bool Shard::send_cork() noexcept {
    if (cork_.empty()) return true;
    const iovec corked = cork_.drain();
    return write_through(*corked_, &corked, 1, corked.iov_len);
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
        else queue_drained(ws);
    }
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        if (batch_[i].result < 0) terminate(*batch_owners_[i]);
    }
    batch_.clear();
    batch_owners_.clear();
    batch_iov_used_ = 0;
}

void Shard::queue_drained(WebSocket& ws) noexcept { ws.output_flags_ &= static_cast<std::uint8_t>(~kPongQueued); }

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
        // A plain HTTP answer that ends the connection once it has gone: the grace for a peer that never reads
        // runs from its last progress, so a slow reader of a large answer gets all of it, and one that stops is
        // still ended. A WebSocket being failed (a slow consumer's 1008 behind its backlog) keeps the fixed grace.
        const bool answering = ws.state_ == WebSocket::State::Http && (ws.flags_ & kCloseWhenFlushed) &&
                               !(ws.flags_ & kLingering);
        if (result > 0 && answering) arm_timer(ws, kCloseGraceSeconds);
        start_send(ws);
        return;
    }
    queue_drained(ws);
    if (ws.flags_ & kCloseWhenFlushed) {
        finish_when_flushed(ws);
        return;
    }
    const WebSocketBehavior& b = behavior(ws);
    if (ws.state_ == WebSocket::State::Open && b.on_drain) b.on_drain(ws);
}

void Shard::send_pong(WebSocket& ws, std::string_view payload) noexcept {
    if (!ws.out_.empty() && (ws.output_flags_ & kPongQueued)) {
        ShardCounters::add(counters_.pongs_coalesced, 1);
        return;
    }
    if (&ws == corked_) {
        // A pong leaves at once rather than in the cork (after what the cork holds): whether the socket took it
        // decides whether the next one is coalesced, which keeps a client that floods pings and never reads at
        // one queued pong.
        if (!flush_cork()) return;
        corked_ = nullptr;
        send_control(ws, Opcode::Pong, payload);
        if (alive(ws)) corked_ = &ws;
    } else {
        send_control(ws, Opcode::Pong, payload);
    }
    if (alive(ws) && !ws.out_.empty()) ws.output_flags_ |= kPongQueued;
}

void Shard::send_control(WebSocket& ws, Opcode opcode, std::string_view payload) noexcept {
    if (event_stream(ws)) return;  // an event stream has no frames
    char frame[kMaxControlFrameBytes];
    const std::size_t n = encode_control_frame(frame, opcode, payload);
    const iovec iov{frame, n};
    write_or_queue(ws, &iov, 1, n);  // control frames are never dropped for backpressure
}

// ---- topics and broadcast fan-out --------------------------------------------------------------------------

SubscribeStatus Shard::subscribe(WebSocket& ws, std::string_view topic) noexcept {
    if (ws.state_ != WebSocket::State::Open) return SubscribeStatus::NotOpen;
    if (topic.empty() || topic.size() > kMaxTopicBytes) return SubscribeStatus::InvalidTopic;
    if (topics_.subscribed(ws, topic)) return SubscribeStatus::AlreadySubscribed;
    if (ShardTopics::count_of(ws) >= behavior(ws).max_subscriptions) {
        ShardCounters::add(counters_.subscriptions_refused, 1);
        return SubscribeStatus::TooMany;
    }
    try {
        if (!topics_.subscribe(ws, topic)) return SubscribeStatus::NoMemory;
    } catch (const std::bad_alloc&) {
        return SubscribeStatus::NoMemory;
    }
    reactor_->expect_batch_writes(ws.fd_);  // off the path of the first broadcast to it
    // With a broker, the first subscriber of a topic on this node waits until the broker sends it here and its
    // history is copied (two round trips); the others find it done.
    if (BrokerLink* broker = broadcaster_.broker_link()) broker->prepare_join(topic);
    return SubscribeStatus::Subscribed;
}

bool Shard::unsubscribe(WebSocket& ws, std::string_view topic) noexcept {
    if (const Topic* t = topics_.find(topic)) forget_joining(ws, t->name);
    return topics_.unsubscribe(ws, topic);
}

SubscribeResult Shard::subscribe(WebSocket& ws, std::string_view topic, const SubscribeOptions& options) {
    SubscribeResult result;
    result.status = subscribe(ws, topic);
    if (result.status != SubscribeStatus::Subscribed && result.status != SubscribeStatus::AlreadySubscribed) {
        return result;
    }
    Joined joined;
    try {
        if (result.status == SubscribeStatus::AlreadySubscribed) {
            StreamPosition position = broadcaster_.logs().position(topic);
            result.offset = position.offset;
            result.epoch = std::move(position.epoch);
            return result;
        }
        joined = broadcaster_.logs().join(topic, options.since, options.since_event, monotonic_ms());
    } catch (const std::bad_alloc&) {
        if (result.status == SubscribeStatus::Subscribed) topics_.unsubscribe(ws, topic);
        result.status = SubscribeStatus::NoMemory;
        return result;
    }
    result.offset = joined.live_from - 1;
    result.epoch = std::move(joined.epoch);
    result.recovered = joined.recovered;
    // What history gave goes out first, in order; the live stream skips whatever of it may still be on its way.
    // An event stream opening gathers its topics' history and sends it in the order of the event ids, once its
    // on_upgrade has subscribed them all (start_event_stream()).
    if (deferring_history_ == &ws) {
        try {
            deferred_history_.insert(deferred_history_.end(), joined.missed.begin(), joined.missed.end());
            joined.missed.clear();
        } catch (const std::bad_alloc&) {
            // sent now, in this topic's order
        }
    }
    for (const BroadcastItem& item : joined.missed) {
        if (stage_item(ws, item)) item.bytes->retain();
        item.bytes->release();  // join()'s reference
    }
    // Only a resume can meet a publication twice (in history and on its way in the ring), so only a resume skips
    // what comes before live_from. A plain subscription takes whatever this shard fans out from now on: its
    // upgrade answer may already have reached the client (the 101 goes out before on_upgrade subscribes), and a
    // publication the client made on seeing it, numbered before this join, is its to get.
    const bool resuming = options.since.has_value() || !options.since_event.empty();
    if (resuming && joined.live_from > 1) {
        const Topic* subscribed = topics_.find(topic);
        try {
            if (joining_.insert_or_assign({ws.index_, subscribed->name}, joined.live_from).second) {
                ++joining_count_[ws.index_];
            }
            ws.delivery_ |= WebSocket::kJoining;
        } catch (const std::bad_alloc&) {
            // Without room to remember it, a publication on its way may reach this subscriber twice.
        }
    }
    return result;
}

void Shard::set_delivery(WebSocket& ws, Delivery delivery) noexcept {
    const bool envelope = delivery == Delivery::Envelope;
    if (envelope == ((ws.delivery_ & WebSocket::kEnvelopeDelivery) != 0)) return;
    broadcaster_.count_envelope(envelope ? 1 : -1);
    if (envelope) ws.delivery_ |= WebSocket::kEnvelopeDelivery;
    else ws.delivery_ &= static_cast<std::uint8_t>(~WebSocket::kEnvelopeDelivery);
}

bool Shard::subscribed(const WebSocket& ws, std::string_view topic) const noexcept {
    return topics_.subscribed(ws, topic);
}

PublishResult Shard::publish(const WebSocket& ws, std::string_view topic, std::string_view message,
                             Opcode opcode) noexcept {
    if (ws.state_ != WebSocket::State::Open) return {PublishStatus::NotRunning};
    return broadcaster_.publish(topic, message, opcode, std::chrono::milliseconds{0},
                                {this, static_cast<std::uint16_t>(index_), token_of(ws)});
}

void Shard::notify_broadcast() noexcept {
    if (!broadcast_pending_.exchange(true, std::memory_order_acq_rel)) reactor_->wake();
}

ShardStats Shard::stats() const noexcept {
    ShardStats s;
    s.connections = counters_.connections.load(std::memory_order_relaxed);
    s.connections_opened = counters_.connections_opened.load(std::memory_order_relaxed);
    s.http_requests = counters_.http_requests.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kRefusalStatusSlots; ++i) {
        s.requests_refused_by_status[i] = counters_.requests_refused_by_status[i].load(std::memory_order_relaxed);
    }
    for (std::size_t i = 0; i < kCloseCodeSlots; ++i) s.closes[i] = counters_.closes[i].load(std::memory_order_relaxed);
    s.messages_in = counters_.messages_in.load(std::memory_order_relaxed);
    s.bytes_in = counters_.bytes_in.load(std::memory_order_relaxed);
    s.messages_out = counters_.messages_out.load(std::memory_order_relaxed);
    s.bytes_out = counters_.bytes_out.load(std::memory_order_relaxed);
    s.dropped = counters_.dropped.load(std::memory_order_relaxed);
    s.slow_closed = counters_.slow_closed.load(std::memory_order_relaxed);
    s.pongs_coalesced = counters_.pongs_coalesced.load(std::memory_order_relaxed);
    s.subscriptions_refused = counters_.subscriptions_refused.load(std::memory_order_relaxed);
    s.refused_per_address = counters_.refused_per_address.load(std::memory_order_relaxed);
    s.refused_at_capacity = counters_.refused_at_capacity.load(std::memory_order_relaxed);
    s.requests_refused = counters_.requests_refused.load(std::memory_order_relaxed);
    s.handshakes = counters_.handshakes.load(std::memory_order_relaxed);
    s.handshakes_evicted = counters_.handshakes_evicted.load(std::memory_order_relaxed);
    s.input_bytes_held = counters_.input_bytes_held.load(std::memory_order_relaxed);
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
    gathering_tls_ = static_cast<bool>(tls_);
    fan_out_.turn(topics_, [this](WebSocket& ws, const BroadcastItem& item) { return stage_broadcast(ws, item); });
    gathering_tls_ = false;
    seal_gathered_tls();
    counters_.taken_broadcasts.store(fan_out_.taken(), std::memory_order_relaxed);
    flush_staged();
}

bool Shard::stage_broadcast(WebSocket& ws, const BroadcastItem& item) noexcept {
    if (item.exclude_shard == index_ && token_of(ws) == item.exclude_token) return false;
    if ((ws.delivery_ & WebSocket::kJoining) && skip_joined(ws, item)) return false;
    return stage_item(ws, item);
}

bool Shard::skip_joined(WebSocket& ws, const BroadcastItem& item) noexcept {
    const auto found = joining_.find({ws.index_, item.topic()});
    if (found == joining_.end()) return false;
    // Before live_from, history gave it; unless the topic's offsets began again (a broker that lost its data):
    // then live_from is of the old epoch, and everything from this item on is new.
    if (item.offset < found->second && !item.new_epoch) return true;
    // The live stream has caught up with what history gave: this subscription is like any other from now on.
    forget_joining(ws, item.topic());
    return false;
}

void Shard::forget_joining(WebSocket& ws, std::string_view topic) noexcept {
    if (!(ws.delivery_ & WebSocket::kJoining)) return;
    const auto count = joining_count_.find(ws.index_);
    std::uint32_t left = count == joining_count_.end() ? 0 : count->second;
    if (topic.empty()) {
        for (auto it = joining_.begin(); it != joining_.end() && left > 0;) {
            if (it->first.index == ws.index_) {
                it = joining_.erase(it);
                --left;
            } else {
                ++it;
            }
        }
        left = 0;
    } else if (joining_.erase({ws.index_, topic}) > 0 && left > 0) {
        --left;
    }
    if (left > 0) {
        count->second = left;
        return;
    }
    if (count != joining_count_.end()) joining_count_.erase(count);
    ws.delivery_ &= static_cast<std::uint8_t>(~WebSocket::kJoining);
}

bool Shard::stage_item(WebSocket& ws, const BroadcastItem& item) noexcept {
    if (event_stream(ws)) {
        if (item.event_size) return stage(ws, item.bytes, item.event());
        return stage_made(ws, [&] {
            std::string envelope = encode_envelope(item.topic(), item.offset, item.message(), item.opcode());
            if (broadcaster_.logs().brokered()) {
                return encode_topic_event(item.topic(), broadcaster_.logs().position(item.topic()).epoch,
                                          item.offset, envelope);
            }
            return encode_event(broadcaster_.logs().epoch(), item.sequence, envelope);
        });
    }
    if (ws.delivery_ & WebSocket::kEnvelopeDelivery) {
        if (item.envelope_size) return stage(ws, item.bytes, item.envelope_frame());
        // Published without an envelope (no history kept, and no connection asked for one then): made for this
        // one.
        return stage_made(ws, [&] {
            const std::string payload = encode_envelope(item.topic(), item.offset, item.message(), item.opcode());
            std::string frame(frame_header_length(payload.size(), false) + payload.size(), '\0');
            const std::size_t header = encode_frame_header(frame.data(), Opcode::Text, payload.size());
            std::memcpy(frame.data() + header, payload.data(), payload.size());
            return frame;
        });
    }
    const std::uint8_t deflate = ws.deflate_;
    const bool compressed = item.deflated_size && (deflate & kDeflateOn) &&
                            server_window_bits(deflate) >= item.deflate_bits;
    if (compressed && !(deflate & kServerNoContext)) ws.deflate_ |= kCompressorStale;
    return stage(ws, item.bytes, compressed ? item.deflated_frame() : item.frame());
}

bool Shard::stage(WebSocket& ws, SharedBytes* bytes, std::string_view frame) noexcept {
    if (&ws == corked_ && !flush_cork()) return false;  // a replay of history behind what the handler sent
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
        // at the end of the batch. No reference to the frame is kept. In a fan-out turn a subscriber's frames come
        // one after another (FanOut::turn()), and they are gathered to be encrypted as one record, not one each.
        // Gathered as a copy, a lone frame too: the turn may release a frame as soon as its last subscriber is
        // staged, before that subscriber's record is sealed.
        if (gathering_tls_) {
            if (&ws != tls_gathered_for_) seal_gathered_tls();
            const iovec piece{const_cast<char*>(frame.data()), frame.size()};
            if (tls_gathered_.take(&piece, 1, frame.size())) {
                tls_gathered_for_ = &ws;
                ++tls_gathered_frames_;
                return false;
            }
            seal_gathered_tls();  // too big to gather: what came before it goes first
        }
        if (session(ws).write({frame.data(), frame.size()})) mark_staged(ws, size);
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

void Shard::seal_gathered_tls() noexcept {
    if (tls_gathered_.empty()) return;
    const iovec plain = tls_gathered_.drain();
    WebSocket& ws = *tls_gathered_for_;
    if (session(ws).write({static_cast<const char*>(plain.iov_base), plain.iov_len})) {
        mark_staged(ws, plain.iov_len, tls_gathered_frames_);
    } else {
        ShardCounters::add(counters_.dropped, tls_gathered_frames_);
    }
    tls_gathered_for_ = nullptr;
    tls_gathered_frames_ = 0;
}

void Shard::mark_staged(WebSocket& ws, std::uint64_t bytes, std::uint32_t messages) noexcept {
    ShardCounters::add(counters_.messages_out, messages);
    ShardCounters::add(counters_.bytes_out, bytes);
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

}  // namespace surge::detail
