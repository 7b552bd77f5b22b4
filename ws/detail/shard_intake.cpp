// The shard's input side: a connection's bytes from the HTTP request through the upgrade to its frames, which
// the message layer (ws/message_reader.hpp) turns into the application's callbacks. Layer: ws (private to the server).
#include "surge/ws/detail/shard.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#include "surge/core/log.hpp"
#include "surge/ws/deflate_negotiation.hpp"
#include "surge/ws/forwarded.hpp"
#include "surge/ws/detail/connection_state.hpp"
#include "surge/ws/http_body.hpp"
#include "surge/ws/upgrade.hpp"

namespace surge::detail {

namespace {

// A held block's size follows from the bytes it holds: it starts at kMinHeld and doubles, so the slot keeps no
// capacity of its own. (After the front is consumed the real block may be larger than this says: never smaller.)
constexpr std::size_t kMinHeld = 1024;
std::size_t held_capacity(std::size_t bytes) noexcept { return bytes <= kMinHeld ? kMinHeld : std::bit_ceil(bytes); }

}  // namespace

bool Shard::hold(WebSocket& ws, std::span<const char> bytes) {
    if (bytes.empty()) return true;
    const std::size_t now = ws.held_bytes_;
    const std::size_t total = now + bytes.size();
    if (total > held_limit_) return false;
    if (!ws.held_ || held_capacity(total) > held_capacity(now)) {
        void* grown = std::realloc(ws.held_, held_capacity(total));
        if (!grown) return false;
        ws.held_ = static_cast<char*>(grown);
    }
    std::memcpy(ws.held_ + now, bytes.data(), bytes.size());
    set_held_bytes(ws, total);
    return true;
}

void Shard::set_held_bytes(WebSocket& ws, std::size_t bytes) noexcept {
    ShardCounters::add(counters_.input_bytes_held, bytes - ws.held_bytes_);  // unsigned: a decrease wraps back
    ws.held_bytes_ = static_cast<std::uint32_t>(bytes);
}

void Shard::drop_held(WebSocket& ws) noexcept {
    std::free(ws.held_);
    ws.held_ = nullptr;
    set_held_bytes(ws, 0);
}

bool Shard::handle_http(WebSocket& ws, std::span<char> bytes) {
    // Requests one after another on a keep-alive connection, the ones pipelined behind it in the same read too.
    // A loop, not recursion: one read may bring thousands of small requests. Only an incomplete request is ever
    // held; the requests after one are read in place from the reactor's buffer.
    for (;;) {
        const RequestStep step = handle_request(ws, bytes);
        if (!step.answered_keep_alive) return step.result;
        bytes = bytes.subspan(step.consumed);
        if (bytes.empty()) return true;
    }
}

Shard::RequestStep Shard::handle_request(WebSocket& ws, std::span<char> bytes) {
    // In place when the whole request came in one read; otherwise gathered in the held block. What follows the
    // request in this read stays where it is: only as much is added as the held block may still take.
    std::span<char> received = bytes;
    const std::size_t held_before = ws.held_bytes_;
    bool cut_short = false;  // the read brought more than the held request may grow by
    if (held_before > 0) {
        const std::size_t room = held_limit_ > held_before ? held_limit_ - held_before : 0;
        cut_short = bytes.size() > room;
        if (!hold(ws, bytes.first(std::min(bytes.size(), room)))) {
            refuse(ws, 503, "out of memory");
            return {};
        }
        received = {ws.held_, ws.held_bytes_};
    }
    // The request is not whole yet: hold it for the next read, unless it would grow past its limit.
    const auto wait_for_more = [&](bool head_whole) -> RequestStep {
        if (cut_short || (ws.held_bytes_ == 0 && !hold(ws, bytes))) {
            refuse(ws, head_whole ? 413 : 431, head_whole ? "request body too large" : "request head too large");
            return {};
        }
        return {.result = true};
    };
    // What of this read is left once the request's `request_bytes` (from the start of `received`) are taken.
    const auto consumed_of_read = [&](std::size_t request_bytes) { return request_bytes - held_before; };
    HttpRequestParser parser(config_.max_header_bytes, ws.request_scanned_);
    HttpRequest request;
    const ParseResult parsed = parser.parse({received.data(), received.size()}, request);
    ws.request_scanned_ = parser.scanned();
    if (parsed.status == ParseStatus::Error) {
        refuse(ws, parsed.http_status, parsed.http_status == 431 ? "request head too large" : "malformed request");
        return {};
    }
    if (parsed.status == ParseStatus::Incomplete) return wait_for_more(false);
    ws.request_scanned_ = 0;

    const int websocket_route = routes_.find_websocket(request.path());
    bool path_known = false;
    const HttpRoute* http_route = routes_.find_http(request.method, request.path(), path_known);
    const bool wants_upgrade = TokenList(request, "Upgrade").contains("websocket");
    if (websocket_route >= 0 && routes_.websockets[static_cast<std::size_t>(websocket_route)].event_stream &&
        !wants_upgrade && (!http_route || request.method == "GET")) {
        if (request.method != "GET") {
            refuse(ws, 405, "method not allowed: an event stream takes GET", &request);
            return {};
        }
        ws.route_ = static_cast<std::uint16_t>(websocket_route);
        return {.result = start_event_stream(ws, request)};
    }
    if (websocket_route >= 0 && (wants_upgrade || !http_route)) {
        ws.route_ = static_cast<std::uint16_t>(websocket_route);
        // Frames behind the request: in `received` after the head, then what of this read was not held.
        const std::span<char> unread = held_before > 0 ? bytes.subspan(received.size() - held_before) : std::span<char>{};
        return {.result = upgrade(ws, request, parsed.head_bytes, received, unread)};
    }
    if (!http_route) {
        refuse(ws, path_known ? 405 : 404, path_known ? "method not allowed" : "not found", &request);
        return {};
    }

    // A body, if any, must be whole before the handler runs.
    const BodyFraming body = frame_request_body(request, config_.max_body_bytes);
    if (body.status != 0) {
        refuse(ws, body.status, body.reason, &request);
        return {};
    }
    char* const body_start = received.data() + parsed.head_bytes;
    std::size_t body_length = body.length;
    std::size_t coded_length = body.length;
    bool whole = received.size() >= parsed.head_bytes + body_length;
    if (body.chunked) {
        // Read from the start each time more has come; decoded in place (never ahead of what it reads) once whole.
        const std::string_view coded(body_start, received.size() - parsed.head_bytes);
        const ChunkedBody chunked = decode_chunked(coded, config_.max_body_bytes);
        if (chunked.status == ChunkedStatus::Error) {
            refuse(ws, chunked.http_status, chunked.reason, &request);
            return {};
        }
        whole = chunked.status == ChunkedStatus::Complete;
        if (whole) {
            body_length = decode_chunked(coded, config_.max_body_bytes, body_start).size;
            coded_length = chunked.consumed;
        }
    }
    if (!whole) return wait_for_more(true);
    const bool keep_alive = answer_http(ws, *http_route, request, {body_start, body_length});
    if (!keep_alive) return {};
    // The next request starts right after this one, in this read (answer_http() let a held request go).
    return {.answered_keep_alive = true, .result = true, .consumed = consumed_of_read(parsed.head_bytes + coded_length)};
}

bool Shard::answer_http(WebSocket& ws, const HttpRoute& route, const HttpRequest& request, std::string_view body) {
    ShardCounters::add(counters_.http_requests, 1);
    Response response;
    route.handler(Request{request, body, ws.fd_, admission_.trusted_proxies}, response);
    // Kept open when the client asks (HTTP/1.1 unless "Connection: close"; 1.0 with "keep-alive") and reads
    // its answers: one that pipelines requests without reading them gets this answer as its last.
    const TokenList connection(request, "Connection");
    bool keep_alive = (request.version_minor >= 1 ? !connection.contains("close") : connection.contains("keep-alive"))
                      && !stopping_ && ws.out_.bytes() <= kMaxPipelinedOutputBytes;
    const std::string bytes = response.serialize(keep_alive ? (request.version_minor >= 1 ? Response::KeepAlive::Implied
                                                                                       : Response::KeepAlive::Said)
                                                            : Response::KeepAlive::No);
    if (config_.on_access) record_access(ws, &request, response.status_code(), response.body_size());
    drop_held(ws);  // the request is answered: what follows it is in the reactor's buffer
    const iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    if (!write_or_queue(ws, &iov, 1, bytes.size())) return false;
    if (!keep_alive) {
        finish_when_flushed(ws);
        return false;
    }
    // The next request has handshake_timeout_seconds from now to arrive whole.
    arm_timer(ws, config_.handshake_timeout_seconds);
    return true;
}

void Shard::record_access(const WebSocket& ws, const HttpRequest* request, int status, std::size_t body_bytes) {
    AccessRecord record;
    record.status = status;
    record.body_bytes = body_bytes;
    net::Endpoint peer;
    if (net::peer_address(ws.fd_, peer)) {
        record.client = request ? forwarded_client(peer, *request, admission_.trusted_proxies) : peer;
    }
    if (request) {
        record.method = request->method;
        record.target = request->target;
    }
    config_.on_access(record);
}

void Shard::refuse(WebSocket& ws, int status, std::string_view reason, const HttpRequest* request) {
    ShardCounters::add(counters_.requests_refused, 1);
    const auto* counted = std::find(std::begin(kCountedRefusalStatuses), std::end(kCountedRefusalStatuses), status);
    ShardCounters::add(
        counters_.requests_refused_by_status[static_cast<std::size_t>(counted - std::begin(kCountedRefusalStatuses))], 1);
    if (log_enabled(LogLevel::Debug)) {
        SURGE_LOG_DEBUG("refused %s: %d %.*s", remote_address_of(ws).text().c_str(), status,
                        static_cast<int>(reason.size()), reason.data());
    }
    if (config_.on_access) record_access(ws, request, status, reason.size() + 1);
    char response[1024];
    const std::size_t n = write_refusal(response, status, reason);
    drop_held(ws);
    const iovec iov{response, n};
    if (write_or_queue(ws, &iov, 1, n)) finish_when_flushed(ws);
}

bool Shard::upgrade(WebSocket& ws, const HttpRequest& request, std::size_t head_bytes, std::span<char> received,
                    std::span<char> unread) {
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
        refuse(ws, decision.status, decision.reason, &request);
        return false;
    }
    char deflate_answer[kDeflateHeaderReserve];
    std::string_view extensions;
    if (b.deflate.enabled) agree_deflate(ws, request, deflate_answer, extensions);
    char response[kUpgradeResponseReserve];
    const std::size_t n = write_upgrade_response(response, decision, extensions);
    if (n == 0) {
        refuse(ws, 500, "response too large", &request);
        return false;
    }
    const iovec iov{response, n};
    ws.state_ = WebSocket::State::Open;
    end_handshake(ws);
    ws.decoder_ = FrameDecoder{};
    ws.decoder_.set_rsv1_allowed((ws.deflate_ & kDeflateOn) != 0);
    if (!write_or_queue(ws, &iov, 1, n)) return false;
    if (config_.on_access) record_access(ws, &request, 101, 0);

    // Frames the client sent right behind its request are decoded after on_open. If they sit in the held
    // chunk, move them to its front (and what of the read was not held follows them); otherwise they are still
    // in the reactor's buffer.
    std::span<char> rest = received.subspan(head_bytes);
    if (ws.held_bytes_ > 0) {
        if (!rest.empty()) std::memmove(ws.held_, rest.data(), rest.size());
        set_held_bytes(ws, rest.size());
        if (ws.held_bytes_ == 0) drop_held(ws);
        rest = unread;
    }
    arm_timer(ws, b.idle_timeout_seconds);
    ws.subprotocol_ = decision.subprotocol.empty() ? 0 : agreed;
    if (route.data.construct) route.data.construct(reinterpret_cast<unsigned char*>(&ws) + route.data.offset);
    ws.flags_ |= kOpened;
    ShardCounters::add(counters_.connections, 1);
    ShardCounters::add(counters_.connections_opened, 1);
    if (log_enabled(LogLevel::Trace)) {
        SURGE_LOG_TRACE("shard %u: upgraded %s on %.*s", index_, remote_address_of(ws).text().c_str(),
                        static_cast<int>(request.target.size()), request.target.data());
    }
    if (!admission_.trusted_proxies.empty()) remember_forwarded_client(ws, request);
    if (b.on_upgrade) b.on_upgrade(ws, Request{request, {}, ws.fd_, admission_.trusted_proxies});
    if (b.on_open && ws.state_ == WebSocket::State::Open) b.on_open(ws);
    if (ws.state_ != WebSocket::State::Open && ws.state_ != WebSocket::State::Closing) return false;
    return handle_frames(ws, rest);
}

bool Shard::start_event_stream(WebSocket& ws, const HttpRequest& request) {
    const WebSocketRoute& route = routes_.websockets[ws.route_];
    const WebSocketBehavior& b = route.behavior;
    if (b.check_origin && !b.check_origin(request)) {
        refuse(ws, 403, "origin not allowed", &request);
        return false;
    }
    // No Content-Length: the body is the stream, until either side closes. X-Accel-Buffering tells nginx to pass
    // each event on at once; retry: how soon an EventSource reconnects.
    static constexpr std::string_view kHead =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\nConnection: keep-alive\r\n\r\nretry: 1000\n\n";
    ws.state_ = WebSocket::State::Open;
    end_handshake(ws);
    drop_held(ws);  // whatever followed the request is not read: the stream is one-way
    ws.delivery_ |= WebSocket::kEventStream;
    broadcaster_.count_event_stream(1);
    arm_timer(ws, b.idle_timeout_seconds);
    if (!admission_.trusted_proxies.empty()) remember_forwarded_client(ws, request);
    if (route.data.construct) route.data.construct(reinterpret_cast<unsigned char*>(&ws) + route.data.offset);
    ws.flags_ |= kOpened;
    ShardCounters::add(counters_.connections, 1);
    ShardCounters::add(counters_.connections_opened, 1);
    // The head goes out once on_upgrade has subscribed, with what it sent behind it: a client that sees the
    // stream open is subscribed (an EventSource's onopen may publish and expect to hear it).
    try {
        opening_bytes_.assign(kHead);
    } catch (const std::bad_alloc&) {
        terminate(ws);
        return false;
    }
    opening_stream_ = &ws;
    deferring_history_ = &ws;
    if (b.on_upgrade) b.on_upgrade(ws, Request{request, {}, ws.fd_, admission_.trusted_proxies});
    deferring_history_ = nullptr;
    opening_stream_ = nullptr;
    const iovec iov{opening_bytes_.data(), opening_bytes_.size()};
    const bool written = ws.state_ == WebSocket::State::Open && write_or_queue(ws, &iov, 1, opening_bytes_.size());
    opening_bytes_.clear();
    opening_bytes_.shrink_to_fit();
    if (written && config_.on_access) record_access(ws, &request, 200, 0);
    // Every topic's missed publications in the order of their event ids, so that the last id the client sees
    // covers everything before it (what it sends back as Last-Event-ID when it reconnects). Stable: with a broker,
    // history copied from the broker has no sequence of this process (0), and stays in its topic's offset order.
    std::stable_sort(deferred_history_.begin(), deferred_history_.end(),
              [](const BroadcastItem& x, const BroadcastItem& y) { return x.sequence < y.sequence; });
    for (const BroadcastItem& item : deferred_history_) {
        if (written && stage_item(ws, item)) item.bytes->retain();
        item.bytes->release();  // join()'s reference
    }
    deferred_history_.clear();
    if (!written) return alive(ws) && ws.state_ != WebSocket::State::Closed;  // closed in on_upgrade, or failed
    if (b.on_open && ws.state_ == WebSocket::State::Open) b.on_open(ws);
    return ws.state_ == WebSocket::State::Open || ws.state_ == WebSocket::State::Closing;
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
        const std::size_t take = std::min(bytes.size(), held_capacity(ws.held_bytes_) - ws.held_bytes_);
        if (take > 0) std::memcpy(ws.held_ + ws.held_bytes_, bytes.data(), take);
        set_held_bytes(ws, ws.held_bytes_ + take);
        bytes = bytes.subspan(take);
        std::size_t consumed = 0;
        if (!feed_decoder(ws, {ws.held_, ws.held_bytes_}, consumed)) return false;
        if (ws.flags_ & kInputDone) return true;
        std::memmove(ws.held_, ws.held_ + consumed, ws.held_bytes_ - consumed);
        set_held_bytes(ws, ws.held_bytes_ - consumed);
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
    void send_control(Opcode opcode, std::string_view payload) override {
        if (opcode == Opcode::Pong) shard_.send_pong(ws_, payload);
        else shard_.send_control(ws_, opcode, payload);
    }
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

void Shard::remember_forwarded_client(WebSocket& ws, const HttpRequest& request) noexcept {
    net::Endpoint peer;
    if (!net::peer_address(ws.fd_, peer)) return;
    const net::Endpoint client = forwarded_client(peer, request, admission_.trusted_proxies);
    if (client.ip == peer.ip && client.port == peer.port) return;  // asked of the kernel again when wanted
    if (ConnectionExtras* own = extras(ws)) own->forwarded_client = client;
}

net::Endpoint Shard::remote_address_of(const WebSocket& ws) const noexcept {
    if (ws.index_ < extras_.size() && extras_[ws.index_] && !extras_[ws.index_]->forwarded_client.ip.empty()) {
        return extras_[ws.index_]->forwarded_client;
    }
    net::Endpoint peer;
    if (ws.fd_ < 0 || !net::peer_address(ws.fd_, peer)) return {};
    return peer;
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

}  // namespace surge::detail
