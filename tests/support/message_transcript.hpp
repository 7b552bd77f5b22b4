// Test support: drives the message layer (ws/message_reader.hpp) as a connection would, keeping the bytes it
// did not consume for the next read, and records everything it reports as one comparable string. Used by the
// unit tests and the fuzz target, which feed the same wire whole, byte by byte and split at many offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/ws/message_reader.hpp"

namespace surge::test {

class RecordingEvents final : public MessageEvents {
public:
    std::string log;          // what the layer reported, in order
    std::string sent;         // control frames it asked to send: "pong:<payload>;" "close:<hex payload>;"
    bool closing = false;     // this side has sent its close
    bool streaming = false;   // take uncompressed messages piece by piece
    bool keep_context = true;
    int stop_after_messages = -1;  // an on_message that returns false (the connection ended inside it)
    int messages = 0;
    Inflater own;
    Inflater shared;

    bool on_message(std::string_view message, Opcode opcode) override {
        log += (opcode == Opcode::Text ? "text:" : "binary:") + std::string(message) + ";";
        return ++messages != stop_after_messages;
    }
    bool streams_uncompressed() const noexcept override { return streaming; }
    bool on_message_piece(std::string_view piece, bool last, Opcode opcode) override {
        // Pieces differ with the cuts; only their concatenation is compared.
        pieces_ += piece;
        if (!last) return true;
        log += (opcode == Opcode::Text ? "text:" : "binary:") + std::exchange(pieces_, {}) + ";";
        return ++messages != stop_after_messages;
    }
    bool on_ping(std::string_view payload) override {
        log += "ping:" + std::string(payload) + ";";
        return true;
    }
    bool on_pong(std::string_view payload) override {
        log += "pong:" + std::string(payload) + ";";
        return true;
    }
    void on_close(std::uint16_t code, std::string_view reason, bool answered) override {
        log += "close:" + std::to_string(code) + ":" + std::string(reason) + (answered ? ":answer;" : ":first;");
    }
    void send_control(Opcode opcode, std::string_view payload) override {
        if (opcode == Opcode::Pong) sent += "pong:" + std::string(payload) + ";";
        else sent += "close:" + hex(payload) + ";";
    }
    bool close_sent() const noexcept override { return closing; }
    Inflater* inflater(bool& keep) noexcept override {
        keep = keep_context;
        return keep_context ? &own : &shared;
    }

    static std::string hex(std::string_view bytes) {
        static const char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned char c : bytes) {
            out += digits[c >> 4];
            out += digits[c & 15];
        }
        return out;
    }

private:
    std::string pieces_;
};

struct MessageOutcome {
    std::string log;
    std::string sent;
    ReadStatus status = ReadStatus::NeedMore;
    std::uint16_t close_code = 0;
    std::string reason;
    bool buffer_left = false;  // a partial message still held memory at the end (not in the summary)

    std::string summary() const {
        return log + "|" + sent + "|" + std::to_string(static_cast<int>(status)) + ":" + std::to_string(close_code) +
               ":" + reason;
    }
};

// Feeds `wire` cut at `cuts` (ascending offsets) through one reader, as a connection's reads.
inline MessageOutcome read_in_pieces(const std::string& wire, const std::vector<std::size_t>& cuts,
                                     const DecoderConfig& config, bool rsv1_allowed, RecordingEvents& events) {
    MessageReader reader;
    FrameDecoder decoder;
    decoder.set_rsv1_allowed(rsv1_allowed);
    PartialMessage partial;
    MessageOutcome out;
    std::string kept;  // bytes not consumed yet, as a connection holds them
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(wire.size());
    for (std::size_t end : ends) {
        kept.append(wire, from, end - from);
        from = end;
        const ReadResult r = reader.feed(config, decoder, partial, {kept.data(), kept.size()}, events);
        kept.erase(0, r.consumed);
        out.status = r.status;
        if (r.status != ReadStatus::NeedMore) {
            out.close_code = r.close_code;
            out.reason = std::string(r.reason);
            break;
        }
    }
    out.log = events.log;
    out.sent = events.sent;
    out.buffer_left = partial.data != nullptr;
    partial.release();
    return out;
}

inline MessageOutcome read_whole(const std::string& wire, const DecoderConfig& config, bool rsv1_allowed,
                                 RecordingEvents& events) {
    return read_in_pieces(wire, {}, config, rsv1_allowed, events);
}

}  // namespace surge::test
