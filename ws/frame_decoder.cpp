#include "surge/ws/frame_decoder.hpp"

#include <algorithm>

namespace surge {

DecodeResult FrameDecoder::fail(std::size_t consumed, std::uint16_t code) noexcept {
    finished_ = true;
    return {consumed, DecodeStatus::Error, code};
}

std::uint16_t FrameDecoder::check_header(const FrameHeader& h, const DecoderConfig& config) const noexcept {
    using namespace close_code;
    if (h.rsv2 || h.rsv3) return kProtocolError;
    if (!is_known_opcode(h.opcode)) return kProtocolError;
    // RFC 6455 5.1: a server closes on an unmasked frame, a client on a masked one.
    if (h.masked != (config.role == Role::Server)) return kProtocolError;
    const auto opcode = static_cast<Opcode>(h.opcode);
    if (is_control(opcode)) {
        if (!h.fin || h.payload_length > kMaxControlPayload || h.rsv1) return kProtocolError;
        return 0;
    }
    if (opcode == Opcode::Continuation) {
        // RFC 7692 6: RSV1 is set only on a message's first frame.
        if (!in_message() || h.rsv1) return kProtocolError;
    } else {
        if (in_message()) return kProtocolError;
        if (h.rsv1 && !rsv1_allowed_) return kProtocolError;
    }
    const std::uint64_t so_far = opcode == Opcode::Continuation ? message_bytes_ : 0;
    if (h.payload_length > config.max_message_bytes - so_far) return kMessageTooBig;
    return 0;
}

DecodeResult FrameDecoder::feed(const DecoderConfig& config, std::span<char> bytes, FrameSink& sink) noexcept {
    std::size_t pos = 0;
    const std::size_t size = bytes.size();
    if (finished_) return {0, DecodeStatus::Closed, 0};
    for (;;) {
        if (in_frame_) {
            // Stream the current data frame's payload: as much of it as this buffer holds.
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_remaining_, size - pos));
            if (n == 0) return {pos, DecodeStatus::NeedMore, 0};
            std::span<char> piece = bytes.subspan(pos, n);
            if (frame_masked_) {
                mask_phase_ = static_cast<std::uint8_t>(apply_mask(piece.data(), n, mask_, mask_phase_));
            }
            frame_remaining_ -= n;
            const bool last = frame_remaining_ == 0 && frame_fin_;
            if (message_opcode_ == static_cast<std::uint8_t>(Opcode::Text) && !message_compressed_) {
                if (!utf8_.feed(piece.data(), n)) return fail(pos, close_code::kInvalidPayload);
                if (last && !utf8_.complete()) return fail(pos, close_code::kInvalidPayload);
            }
            pos += n;
            if (frame_remaining_ == 0) in_frame_ = false;
            const bool more = sink.on_message_data(piece, last);
            if (last) message_opcode_ = 0;  // after the call: the sink may ask message_opcode() in it
            if (!more) return {pos, DecodeStatus::Stopped, 0};
            continue;
        }

        FrameHeader h;
        switch (parse_frame_header(bytes.data() + pos, size - pos, h)) {
        case HeaderStatus::Incomplete: return {pos, DecodeStatus::NeedMore, 0};
        case HeaderStatus::LengthTopBit: return fail(pos, close_code::kProtocolError);
        case HeaderStatus::Complete: break;
        }
        if (const std::uint16_t code = check_header(h, config)) return fail(pos, code);
        const auto opcode = static_cast<Opcode>(h.opcode);

        if (is_control(opcode)) {
            // Control frames are small (<= 139 bytes): report them whole, so wait until all of it is here.
            const std::size_t length = h.header_length + static_cast<std::size_t>(h.payload_length);
            if (size - pos < length) return {pos, DecodeStatus::NeedMore, 0};
            std::span<char> payload = bytes.subspan(pos + h.header_length, h.payload_length);
            if (h.masked) apply_mask(payload.data(), payload.size(), h.mask, 0);
            if (opcode == Opcode::Close) {
                if (payload.size() == 1) return fail(pos, close_code::kProtocolError);
                if (payload.size() >= 2) {
                    const ClosePayload close = parse_close_payload(payload);
                    if (!is_valid_wire_close_code(close.code)) return fail(pos, close_code::kProtocolError);
                    if (!is_valid_utf8(close.reason)) return fail(pos, close_code::kInvalidPayload);
                }
                pos += length;
                finished_ = true;
                sink.on_control(opcode, payload);
                return {pos, DecodeStatus::Closed, 0};
            }
            pos += length;
            if (!sink.on_control(opcode, payload)) return {pos, DecodeStatus::Stopped, 0};
            continue;
        }

        // A data frame: take the header, then stream its payload.
        pos += h.header_length;
        frame_remaining_ = h.payload_length;
        frame_fin_ = h.fin;
        frame_masked_ = h.masked;
        mask_ = h.mask;
        mask_phase_ = 0;
        in_frame_ = h.payload_length != 0;
        if (opcode != Opcode::Continuation) {
            message_opcode_ = h.opcode;
            message_compressed_ = h.rsv1;
            message_bytes_ = 0;
            utf8_.reset();
            if (!sink.on_message_begin(opcode, h.rsv1)) {
                if (h.payload_length == 0 && h.fin) message_opcode_ = 0;
                return {pos, DecodeStatus::Stopped, 0};
            }
        }
        message_bytes_ += h.payload_length;
        if (h.payload_length == 0 && h.fin) {
            // An empty final frame: the message ends here with no bytes.
            const bool text = message_opcode_ == static_cast<std::uint8_t>(Opcode::Text) && !message_compressed_;
            if (text && !utf8_.complete()) return fail(pos, close_code::kInvalidPayload);
            const bool more = sink.on_message_data({}, true);
            message_opcode_ = 0;
            if (!more) return {pos, DecodeStatus::Stopped, 0};
        }
    }
}

ClosePayload parse_close_payload(std::span<const char> payload) noexcept {
    if (payload.size() < 2) return {};
    const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
    return {static_cast<std::uint16_t>((p[0] << 8) | p[1]),
            std::string_view(payload.data() + 2, payload.size() - 2)};
}

}  // namespace surge
