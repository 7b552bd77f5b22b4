// Test support: drives a FrameDecoder the way a connection does (bytes arrive in pieces; unconsumed bytes are
// kept and presented again with the next piece appended) and records what it reported as a transcript of
// whole messages, so that feeding the same bytes whole, byte by byte or split anywhere can be compared.
// Shared by the unit tests and the frame fuzz target.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "surge/ws/frame_decoder.hpp"

namespace surge::test {

class TranscriptSink final : public FrameSink {
public:
    std::string transcript;  // e.g. "text[5]:hello|ping[0]:|close[2]:..."

    bool on_message_begin(Opcode opcode, bool compressed) override {
        current_ = opcode == Opcode::Text ? "text" : "binary";
        if (compressed) current_ += "+z";
        payload_.clear();
        return true;
    }
    bool on_message_data(std::span<char> piece, bool last) override {
        payload_.append(piece.data(), piece.size());
        if (last) transcript += current_ + "[" + std::to_string(payload_.size()) + "]:" + payload_ + "|";
        return true;
    }
    bool on_control(Opcode opcode, std::span<char> payload) override {
        const char* name = opcode == Opcode::Ping ? "ping" : opcode == Opcode::Pong ? "pong" : "close";
        transcript += std::string(name) + "[" + std::to_string(payload.size()) + "]:" +
                      std::string(payload.data(), payload.size()) + "|";
        return true;
    }

private:
    std::string current_;
    std::string payload_;
};

struct DecodeOutcome {
    std::string transcript;
    DecodeStatus status = DecodeStatus::NeedMore;
    std::uint16_t close_code = 0;
    std::size_t left_over = 0;  // bytes still held when the input ended

    std::string summary() const {
        static const char* names[] = {"need-more", "stopped", "closed", "error"};
        return transcript + " => " + names[static_cast<int>(status)] + " " + std::to_string(close_code) +
               " left " + std::to_string(left_over);
    }
};

// Feeds `wire` in pieces whose ends are given by `cuts` (ascending offsets; the end is implied).
inline DecodeOutcome decode_in_pieces(std::string wire, const std::vector<std::size_t>& cuts,
                                      const DecoderConfig& config = {}, bool rsv1_allowed = false) {
    FrameDecoder decoder;
    decoder.set_rsv1_allowed(rsv1_allowed);
    TranscriptSink sink;
    DecodeOutcome outcome;
    std::string held;
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(wire.size());
    for (std::size_t end : ends) {
        if (end < from) continue;
        held.append(wire, from, end - from);
        from = end;
        const DecodeResult r = decoder.feed(config, {held.data(), held.size()}, sink);
        held.erase(0, r.consumed);
        outcome.status = r.status;
        outcome.close_code = r.close_code;
        if (r.status != DecodeStatus::NeedMore) break;
    }
    outcome.transcript = sink.transcript;
    outcome.left_over = outcome.status == DecodeStatus::NeedMore ? held.size() : 0;
    return outcome;
}

inline DecodeOutcome decode_whole(const std::string& wire, const DecoderConfig& config = {},
                                  bool rsv1_allowed = false) {
    return decode_in_pieces(wire, {}, config, rsv1_allowed);
}

inline DecodeOutcome decode_bytewise(const std::string& wire, const DecoderConfig& config = {},
                                     bool rsv1_allowed = false) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    return decode_in_pieces(wire, cuts, config, rsv1_allowed);
}

}  // namespace surge::test
