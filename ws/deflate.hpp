// permessage-deflate's compressor and decompressor (RFC 7692 section 7.2) over zlib's raw deflate. Layer: ws.
// A message is compressed whole: deflate, a sync flush, and the flush's final 00 00 ff ff removed; the receiver
// puts those four bytes back before inflating. Without context takeover the stream starts over after each
// message, so one Deflater or Inflater can serve any number of connections in turn (a shard shares one); with
// it the window carries over, so it belongs to one connection. Inflation is bounded: it stops as soon as the
// output would pass the caller's limit, so a small compressed message cannot expand past it (a zip bomb).
// Not thread-safe: one object per thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "surge/core/byte_buffer.hpp"

struct z_stream_s;

namespace surge {

// zlib cannot make a raw deflate stream with a 256-byte window (it silently uses 512), so 9 is the smallest
// window surge compresses with; a peer that demands 8 of the server is declined (see deflate_negotiation.hpp).
inline constexpr int kMinDeflateWindowBits = 9;
inline constexpr int kMaxDeflateWindowBits = 15;

// Frees a zlib stream made by Deflater or Inflater.
struct ZStreamDelete {
    bool inflating = false;
    void operator()(z_stream_s* stream) const noexcept;
};
using ZStreamPtr = std::unique_ptr<z_stream_s, ZStreamDelete>;

class Deflater {
public:
    // level 1..9 (or -1 for zlib's default), window_bits 9..15, mem_level 1..9. False when zlib cannot make the
    // stream (out of memory, or an argument out of range).
    bool init(int level, int window_bits, int mem_level) noexcept;
    bool ready() const noexcept { return stream_ != nullptr; }
    // Compresses one message into `out` (appended), ready to be a frame's payload with RSV1 set. With
    // `keep_context` false, the next message starts with an empty window (no context takeover). False when out
    // of memory; the stream is then reset.
    bool compress(std::string_view message, ByteBuffer& out, bool keep_context) noexcept;
    // Forgets the window: the next message refers to nothing sent before.
    void reset() noexcept;
    int window_bits() const noexcept { return window_bits_; }

private:
    ZStreamPtr stream_;
    int window_bits_ = 0;
};

enum class InflateStatus : std::uint8_t {
    Ok,
    TooBig,    // the message would pass the limit: close with 1009
    Corrupt,   // not a valid deflate stream: close with 1007
    NoMemory,  // close with 1011
};

// The close code a failed inflation calls for (0 for Ok): 1009, 1007 or 1011.
std::uint16_t close_code_for(InflateStatus status) noexcept;

class Inflater {
public:
    // Takes a window of up to 2^15, so it reads whatever window the peer agreed to use.
    bool init() noexcept;
    bool ready() const noexcept { return stream_ != nullptr; }
    // Decompresses one message's payload (without the 00 00 ff ff tail) into `out` (appended), stopping with
    // TooBig as soon as more than `limit` bytes would come out. With `keep_context` false, the window is
    // forgotten after the message. After a failure the stream is reset.
    InflateStatus inflate(std::span<const char> payload, ByteBuffer& out, std::size_t limit,
                          bool keep_context) noexcept;

private:
    ZStreamPtr stream_;
};

}  // namespace surge
