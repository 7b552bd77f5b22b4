// libFuzzer target for the frame decoder. The first byte picks the configuration (role, RSV1 allowed, a small
// or large message limit); the rest is the wire. Fed whole, one byte at a time and split where the input
// says, the decoder must report the same messages and the same outcome.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/frame_transcript.hpp"

using namespace surge;
using namespace surge::test;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    DecoderConfig config;
    config.role = (data[0] & 1) ? Role::Client : Role::Server;
    config.max_message_bytes = (data[0] & 2) ? 300 : 16 * 1024 * 1024;
    const bool rsv1 = (data[0] & 4) != 0;
    const std::string wire(reinterpret_cast<const char*>(data + 1), size - 1);

    const DecodeOutcome whole = decode_whole(wire, config, rsv1);
    const std::string expected = whole.summary();
    if (decode_bytewise(wire, config, rsv1).summary() != expected) std::abort();
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1, step = 1 + (data[0] >> 3); i < wire.size(); i += step, step = step * 3 % 17 + 1) {
        cuts.push_back(i);
    }
    if (decode_in_pieces(wire, cuts, config, rsv1).summary() != expected) std::abort();
    if (whole.status == DecodeStatus::Error) {
        const std::uint16_t code = whole.close_code;
        if (code != 1002 && code != 1007 && code != 1009) std::abort();
    }
    return 0;
}
