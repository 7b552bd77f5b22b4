// libFuzzer target for the message layer (ws/message_reader.hpp), frame decoding and permessage-deflate
// included. The first byte picks the configuration (role, message limit, RSV1 allowed, a streaming role, the
// inflater's context, whether this side has sent its close); the rest is the wire. Fed whole, one byte at a time
// and split where the input says, the layer must report the same events, replies and outcome, and a failure
// must carry a close code a peer may be sent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/message_transcript.hpp"

using namespace surge;
using namespace surge::test;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t flags = data[0];
    DecoderConfig config;
    config.role = (flags & 1) ? Role::Client : Role::Server;
    config.max_message_bytes = (flags & 2) ? 300 : 1024 * 1024;
    const bool rsv1 = (flags & 4) != 0;
    auto setup = [flags](RecordingEvents& e) {
        e.streaming = (flags & 8) != 0;
        e.keep_context = (flags & 16) == 0;
        e.closing = (flags & 32) != 0;
    };
    const std::string wire(reinterpret_cast<const char*>(data + 1), size - 1);

    RecordingEvents whole_events;
    setup(whole_events);
    const MessageOutcome whole = read_whole(wire, config, rsv1, whole_events);
    const std::string expected = whole.summary();

    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < wire.size(); ++i) every.push_back(i);
    RecordingEvents bytewise_events;
    setup(bytewise_events);
    if (read_in_pieces(wire, every, config, rsv1, bytewise_events).summary() != expected) std::abort();

    std::vector<std::size_t> cuts;
    for (std::size_t i = 1, step = 1 + (flags >> 6); i < wire.size(); i += step, step = step * 3 % 17 + 1) {
        cuts.push_back(i);
    }
    RecordingEvents cut_events;
    setup(cut_events);
    if (read_in_pieces(wire, cuts, config, rsv1, cut_events).summary() != expected) std::abort();

    if (whole.status == ReadStatus::Failed) {
        const std::uint16_t code = whole.close_code;
        if (code != 1002 && code != 1007 && code != 1009 && code != 1011) std::abort();
        if (whole.reason.empty()) std::abort();
    }
    return 0;
}
