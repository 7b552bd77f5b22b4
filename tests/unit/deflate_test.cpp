// permessage-deflate's compressor and decompressor: round trips at every window size, with and without context
// takeover; what a peer's compressor (zlib with other settings) sends inflates; inflation stops at the limit
// however far the data would expand (a zip bomb); corrupt data is reported, not trusted; and the stream is usable
// again after every failure.
#include "surge/ws/deflate.hpp"

#include <doctest/doctest.h>

#include <zlib.h>

#include <random>
#include <string>
#include <vector>

using namespace surge;

namespace {

std::string sample_text(std::size_t size, unsigned seed) {
    static constexpr std::string_view kWords[] = {"price ", "update ", "BTC-USD ", "42.17 ", "{\"bid\":", "\"ask\":",
                                                  "news ", "é ", "\n"};
    std::mt19937 rng(seed);
    std::string text;
    while (text.size() < size) text += kWords[rng() % std::size(kWords)];
    text.resize(size);
    return text;
}

std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    return bytes;
}

std::string inflate_all(Inflater& inflater, std::string_view payload, bool keep_context,
                        InflateStatus expect = InflateStatus::Ok, std::size_t limit = 64 << 20) {
    ByteBuffer out;
    REQUIRE(inflater.inflate({payload.data(), payload.size()}, out, limit, keep_context) == expect);
    return std::string(out.view());
}

// A raw deflate stream made by zlib directly, as another implementation would: one message, sync-flushed, tail
// removed.
std::string foreign_deflate(std::string_view message, int level, int window_bits, int strategy) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, -window_bits, 9, strategy) == Z_OK);
    std::string out(deflateBound(&z, message.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
    z.avail_in = static_cast<uInt>(message.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    REQUIRE(out.size() >= 4);
    CHECK(out.substr(out.size() - 4) == std::string("\x00\x00\xff\xff", 4));
    out.resize(out.size() - 4);
    return out;
}

}  // namespace

TEST_CASE("messages round-trip at every window size, with and without context takeover") {
    for (int bits = kMinDeflateWindowBits; bits <= kMaxDeflateWindowBits; ++bits) {
        for (bool keep : {false, true}) {
            CAPTURE(bits);
            CAPTURE(keep);
            Deflater deflater;
            REQUIRE(deflater.init(6, bits, 8));
            Inflater inflater;
            REQUIRE(inflater.init());
            const std::vector<std::string> messages = {sample_text(1000, 1), sample_text(1000, 1), std::string(),
                                                       sample_text(100000, 2), random_bytes(3000, 3),
                                                       std::string(1, 'x'), sample_text(70000, 4)};
            for (const std::string& message : messages) {
                ByteBuffer compressed;
                REQUIRE(deflater.compress(message, compressed, keep));
                // The 00 00 ff ff tail never goes on the wire.
                if (compressed.size() >= 4) CHECK(compressed.view().substr(compressed.size() - 4) != "\x00\x00\xff\xff");
                CHECK(inflate_all(inflater, compressed.view(), keep) == message);
            }
        }
    }
}

TEST_CASE("context takeover shrinks a repeated message, and without it every message stands alone") {
    const std::string message = sample_text(2000, 7);
    Deflater keeping;
    REQUIRE(keeping.init(6, 15, 8));
    ByteBuffer first, second;
    REQUIRE(keeping.compress(message, first, true));
    REQUIRE(keeping.compress(message, second, true));
    CHECK(second.size() < first.size() / 4);  // the second refers back to the first

    Deflater alone;
    REQUIRE(alone.init(6, 15, 8));
    ByteBuffer a, b;
    REQUIRE(alone.compress(message, a, false));
    REQUIRE(alone.compress(message, b, false));
    CHECK(a.view() == b.view());
    // Each inflates with a fresh decompressor: no message needs an earlier one.
    Inflater fresh;
    REQUIRE(fresh.init());
    CHECK(inflate_all(fresh, b.view(), false) == message);
}

TEST_CASE("messages from another compressor inflate: levels, strategies, windows") {
    const std::string message = sample_text(50000, 11);
    Inflater inflater;
    REQUIRE(inflater.init());
    for (int level : {0, 1, 9}) {
        for (int strategy : {Z_DEFAULT_STRATEGY, Z_HUFFMAN_ONLY, Z_FIXED, Z_RLE}) {
            for (int bits : {9, 12, 15}) {
                CAPTURE(level);
                CAPTURE(strategy);
                CAPTURE(bits);
                CHECK(inflate_all(inflater, foreign_deflate(message, level, bits, strategy), false) == message);
            }
        }
    }
}

TEST_CASE("a message fed to the decompressor in pieces of any size inflates the same") {
    // The server inflates whole messages, but the stream must not care where its input was cut: feed the
    // compressed bytes of a context-takeover stream message by message.
    Deflater deflater;
    REQUIRE(deflater.init(9, 15, 9));
    Inflater inflater;
    REQUIRE(inflater.init());
    for (unsigned i = 0; i < 50; ++i) {
        const std::string message = sample_text(10 + i * 97, i);
        ByteBuffer compressed;
        REQUIRE(deflater.compress(message, compressed, true));
        CHECK(inflate_all(inflater, compressed.view(), true) == message);
    }
}

TEST_CASE("inflation stops at the limit, however far the data would expand") {
    Deflater deflater;
    REQUIRE(deflater.init(9, 15, 9));
    const std::string zeros(64 << 20, '\0');  // 64 MiB of zeros: about 64 KiB compressed
    ByteBuffer bomb;
    REQUIRE(deflater.compress(zeros, bomb, false));
    CHECK(bomb.size() < 100 * 1024);

    Inflater inflater;
    REQUIRE(inflater.init());
    ByteBuffer out;
    CHECK(inflater.inflate({bomb.data(), bomb.size()}, out, 1 << 20, false) == InflateStatus::TooBig);
    // The output never grew much past the limit.
    CHECK(out.capacity() <= (1 << 20) + 1 + 64 * 1024);

    // Exactly at the limit is fine; one byte more is not.
    const std::string exact(1000, 'a');
    ByteBuffer small;
    REQUIRE(deflater.compress(exact, small, false));
    CHECK(inflate_all(inflater, small.view(), false, InflateStatus::Ok, 1000) == exact);
    inflate_all(inflater, small.view(), false, InflateStatus::TooBig, 999);
    // And the stream is fine after the failures.
    CHECK(inflate_all(inflater, small.view(), false) == exact);
}

TEST_CASE("corrupt data is reported, and the decompressor is usable afterwards") {
    Inflater inflater;
    REQUIRE(inflater.init());
    // Block type 3 is reserved: invalid from the first byte.
    inflate_all(inflater, "\xff\xff\xff\xff", false, InflateStatus::Corrupt);
    // A stored block whose length and its complement disagree.
    inflate_all(inflater, std::string("\x00\x05\x00\x00\x00hello", 10), false, InflateStatus::Corrupt);
    // Bytes after a final block.
    Deflater deflater;
    REQUIRE(deflater.init(6, 15, 8));
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string finished(256, '\0');
    std::string hello = "hello";
    z.next_in = reinterpret_cast<Bytef*>(hello.data());
    z.avail_in = 5;
    z.next_out = reinterpret_cast<Bytef*>(finished.data());
    z.avail_out = 256;
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    finished.resize(256 - z.avail_out);
    deflateEnd(&z);
    // A final block alone is allowed (RFC 7692 7.2.3.4), with nothing after it.
    CHECK(inflate_all(inflater, finished, false) == "hello");
    inflate_all(inflater, finished + "junk", false, InflateStatus::Corrupt);
    // Every random input either inflates or is reported; none crashes or hangs.
    for (unsigned seed = 0; seed < 300; ++seed) {
        const std::string noise = random_bytes(1 + seed % 200, seed);
        ByteBuffer out;
        const InflateStatus status = inflater.inflate({noise.data(), noise.size()}, out, 1 << 16, false);
        CHECK((status == InflateStatus::Ok || status == InflateStatus::Corrupt || status == InflateStatus::TooBig));
    }
    CHECK(inflate_all(inflater, finished, false) == "hello");
}

TEST_CASE("a window that zlib cannot make is refused") {
    Deflater deflater;
    CHECK_FALSE(deflater.init(6, 8, 8));
    CHECK_FALSE(deflater.init(6, 16, 8));
    CHECK_FALSE(deflater.ready());
}
