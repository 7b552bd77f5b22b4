// The opening handshake: parse the request in place, validate it, compute the accept key and write the 101
// response, for the RFC's request and a browser's (larger, with extensions offered). Reports allocations per
// handshake, which must be zero. The baseline is a memcpy of the request's bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "bench/micro/bench_support.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

namespace {

const std::string kRfcRequest =
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

const std::string kBrowserRequest =
    "GET /ws?topics=news,sport HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nConnection: keep-alive, Upgrade\r\n"
    "Pragma: no-cache\r\nCache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\nOrigin: http://127.0.0.1:9001\r\nSec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

void handshake(benchmark::State& state, const std::string& request_bytes) {
    char response[surge::kUpgradeResponseReserve];
    auto op = [&] {
        surge::HttpRequestParser parser;
        surge::HttpRequest request;
        const surge::ParseResult parsed = parser.parse(request_bytes, request);
        const surge::UpgradeDecision decision = surge::check_upgrade(request);
        benchmark::DoNotOptimize(parsed);
        benchmark::DoNotOptimize(surge::write_upgrade_response(response, decision));
        benchmark::ClobberMemory();
    };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(request_bytes.size()));
}

void BM_UpgradeRfc(benchmark::State& state) { handshake(state, kRfcRequest); }
void BM_UpgradeBrowser(benchmark::State& state) { handshake(state, kBrowserRequest); }

void BM_UpgradeParseOnly(benchmark::State& state) {
    auto op = [&] {
        surge::HttpRequestParser parser;
        surge::HttpRequest request;
        benchmark::DoNotOptimize(parser.parse(kBrowserRequest, request));
        benchmark::ClobberMemory();
    };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kBrowserRequest.size()));
}

void BM_UpgradeMemcpyBaseline(benchmark::State& state) {
    char copy[1024];
    for (auto _ : state) {
        std::memcpy(copy, kBrowserRequest.data(), kBrowserRequest.size());  // NOLINT: bytes, not a C string
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kBrowserRequest.size()));
}

}  // namespace

BENCHMARK(BM_UpgradeRfc);
BENCHMARK(BM_UpgradeBrowser);
BENCHMARK(BM_UpgradeParseOnly);
BENCHMARK(BM_UpgradeMemcpyBaseline);

namespace {
// Proves the counter counts: one std::string too long for the small-string buffer is one allocation per call.
void BM_AllocationCounterCheck(benchmark::State& state) {
    auto op = [] { benchmark::DoNotOptimize(std::string(100, 'a')); };
    for (auto _ : state) op();
    surge::bench::report_allocations(state, op);
}
}  // namespace
BENCHMARK(BM_AllocationCounterCheck);
