#include "surge/ws/message_reader.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "surge/core/utf8.hpp"
#include "surge/ws/frame_encoder.hpp"

namespace surge {
namespace {
// The inflate scratch keeps at most this much between messages, so one large message does not pin its memory.
constexpr std::size_t kScratchKeepBytes = 256 * 1024;
}  // namespace

void PartialMessage::release() noexcept {
    std::free(data);
    data = nullptr;
    size = 0;
    capacity = 0;
}

// One feed() call: the decoder's sink for this connection.
class MessageReader::Call final : public FrameSink {
public:
    Call(MessageReader& reader, const DecoderConfig& config, FrameDecoder& decoder, PartialMessage& partial,
         MessageEvents& events) noexcept
        : reader_(reader), config_(config), decoder_(decoder), partial_(partial), events_(events) {}

    // Set when an event's own check fails (inflation, UTF-8 after it, memory): feed() reports it.
    std::uint16_t failure_code = 0;
    std::string_view failure_reason;

    bool on_message_begin(Opcode, bool) override {
        partial_.size = 0;
        return true;
    }

    bool on_message_data(std::span<char> piece, bool last) override {
        const Opcode opcode = decoder_.message_opcode();
        const bool compressed = decoder_.message_compressed();
        if (!compressed && events_.streams_uncompressed()) {
            return events_.on_message_piece({piece.data(), piece.size()}, last, opcode);
        }
        // The whole message in one piece: hand over the bytes where they lie.
        if (last && partial_.size == 0) return deliver({piece.data(), piece.size()}, opcode, compressed);
        // A message spread over frames or reads: gather it. The decoder has already checked the size limit.
        const std::size_t needed = partial_.size + piece.size();
        if (needed > partial_.capacity) {
            const std::size_t capacity = std::max<std::size_t>(
                needed, std::min<std::uint64_t>(2 * std::size_t{partial_.capacity} + 4096, config_.max_message_bytes));
            char* grown = static_cast<char*>(std::realloc(partial_.data, capacity));
            if (!grown) return fail(close_code::kInternalError, "out of memory");
            partial_.data = grown;
            partial_.capacity = static_cast<std::uint32_t>(capacity);
        }
        if (!piece.empty()) std::memcpy(partial_.data + partial_.size, piece.data(), piece.size());
        partial_.size = static_cast<std::uint32_t>(needed);
        if (!last) return true;
        const bool delivered = deliver({partial_.data, partial_.size}, opcode, compressed);
        partial_.release();  // an idle connection holds no message buffer
        return delivered;
    }

    bool on_control(Opcode opcode, std::span<char> payload) override {
        const std::string_view view(payload.data(), payload.size());
        if (opcode == Opcode::Ping) {
            if (!events_.close_sent()) events_.send_control(Opcode::Pong, view);
            return events_.on_ping(view);
        }
        if (opcode == Opcode::Pong) return events_.on_pong(view);
        const ClosePayload close = parse_close_payload(payload);
        const bool answered = events_.close_sent();
        if (!answered) {
            // The peer starts the closing handshake: answer with its code (none when it gave none).
            char reply[kMaxControlPayload];
            const std::size_t n = close.code == close_code::kNoStatus ? 0 : encode_close_payload(reply, close.code, {});
            events_.send_control(Opcode::Close, {reply, n});
        }
        events_.on_close(close.code, close.reason, answered);
        return false;
    }

private:
    bool deliver(std::string_view payload, Opcode opcode, bool compressed) {
        if (!compressed) return events_.on_message(payload, opcode);
        std::string_view reason;
        const std::uint16_t code = reader_.inflate(payload, opcode, config_.max_message_bytes, events_, reason);
        if (code) return fail(code, reason);
        const bool alive = events_.on_message(reader_.inflate_out_.view(), opcode);
        reader_.inflate_out_.trim(kScratchKeepBytes);
        return alive;
    }

    bool fail(std::uint16_t code, std::string_view reason) noexcept {
        failure_code = code;
        failure_reason = reason;
        return false;
    }

    MessageReader& reader_;
    const DecoderConfig& config_;
    FrameDecoder& decoder_;
    PartialMessage& partial_;
    MessageEvents& events_;
};

std::uint16_t MessageReader::inflate(std::string_view payload, Opcode opcode, std::uint64_t limit,
                                     MessageEvents& events, std::string_view& reason) noexcept {
    bool keep_context = false;
    Inflater* inflater = events.inflater(keep_context);
    if (!inflater || (!inflater->ready() && !inflater->init())) {
        reason = "out of memory";
        return close_code::kInternalError;
    }
    inflate_out_.clear();
    // The limit applies to what the application gets, not to the compressed bytes that came in.
    const InflateStatus status = inflater->inflate({payload.data(), payload.size()}, inflate_out_,
                                                   static_cast<std::size_t>(limit), keep_context);
    if (status != InflateStatus::Ok) {
        reason = status == InflateStatus::TooBig    ? "message too big"
                 : status == InflateStatus::Corrupt ? "invalid compressed data"
                                                    : "out of memory";
        return close_code_for(status);
    }
    if (opcode == Opcode::Text && !is_valid_utf8(inflate_out_.view())) {
        reason = "invalid UTF-8";
        return close_code::kInvalidPayload;
    }
    return 0;
}

ReadResult MessageReader::feed(const DecoderConfig& config, FrameDecoder& decoder, PartialMessage& partial,
                               std::span<char> bytes, MessageEvents& events) {
    Call call(*this, config, decoder, partial, events);
    const DecodeResult r = decoder.feed(config, bytes, call);
    switch (r.status) {
    case DecodeStatus::NeedMore: return {r.consumed, ReadStatus::NeedMore, 0, {}};
    case DecodeStatus::Stopped:
        if (call.failure_code) return {r.consumed, ReadStatus::Failed, call.failure_code, call.failure_reason};
        return {r.consumed, ReadStatus::Ended, 0, {}};
    case DecodeStatus::Closed: return {r.consumed, ReadStatus::Closed, 0, {}};
    case DecodeStatus::Error: {
        const char* reason = r.close_code == close_code::kInvalidPayload  ? "invalid UTF-8"
                             : r.close_code == close_code::kMessageTooBig ? "message too big"
                                                                          : "protocol error";
        return {r.consumed, ReadStatus::Failed, r.close_code, reason};
    }
    }
    return {r.consumed, ReadStatus::Ended, 0, {}};
}

}  // namespace surge
