// Frame header parsing alone, and a whole masked client frame decoded by FrameDecoder (header, unmask in
// place, UTF-8 check for text), per payload size. The decode re-masks the buffer each iteration (the decoder
// unmasks in place); BM_DecodeRemaskOnly measures that overhead alone so it can be subtracted.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/micro/bench_support.hpp"
#include "surge/ws/frame_decoder.hpp"
#include "surge/ws/frame_header.hpp"

namespace {

constexpr surge::MaskKey kKey = {0x37, 0xFA, 0x21, 0x3D};

std::string masked_frame(surge::Opcode opcode, std::size_t size) {
    std::string out(surge::kMaxFrameHeaderBytes + size, 'a');
    const std::size_t header = surge::encode_frame_header(out.data(), opcode, size, true, false, &kKey);
    out.resize(header + size);
    surge::apply_mask(out.data() + header, size, kKey);
    return out;
}

struct CountingSink final : surge::FrameSink {
    std::size_t bytes = 0;
    bool on_message_begin(surge::Opcode, bool) override { return true; }
    bool on_message_data(std::span<char> piece, bool) override {
        bytes += piece.size();
        return true;
    }
    bool on_control(surge::Opcode, std::span<char>) override { return true; }
};

void BM_FrameHeaderParse(benchmark::State& state) {
    const std::string frame = masked_frame(surge::Opcode::Binary, static_cast<std::size_t>(state.range(0)));
    auto op = [&] {
        surge::FrameHeader header;
        benchmark::DoNotOptimize(surge::parse_frame_header(frame.data(), frame.size(), header));
        benchmark::DoNotOptimize(header);
    };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
    state.SetItemsProcessed(state.iterations());
}

void decode(benchmark::State& state, surge::Opcode opcode, bool decode_too) {
    const auto size = static_cast<std::size_t>(state.range(0));
    std::string frame = masked_frame(opcode, size);
    const std::size_t header = frame.size() - size;
    surge::DecoderConfig config;
    config.max_message_bytes = 1ULL << 30;
    CountingSink sink;
    auto op = [&] {
        if (decode_too) {
            surge::FrameDecoder decoder;
            benchmark::DoNotOptimize(decoder.feed(config, {frame.data(), frame.size()}, sink));
        }
        surge::apply_mask(frame.data() + header, size, kKey);  // mask again for the next round
        benchmark::ClobberMemory();
    };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_DecodeBinary(benchmark::State& state) { decode(state, surge::Opcode::Binary, true); }
void BM_DecodeText(benchmark::State& state) { decode(state, surge::Opcode::Text, true); }
void BM_DecodeRemaskOnly(benchmark::State& state) { decode(state, surge::Opcode::Binary, false); }

}  // namespace

BENCHMARK(BM_FrameHeaderParse)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_DecodeBinary)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_DecodeText)->Apply(surge::bench::payload_sizes);
BENCHMARK(BM_DecodeRemaskOnly)->Apply(surge::bench::payload_sizes);
