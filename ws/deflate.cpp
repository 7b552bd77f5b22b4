#include "surge/ws/deflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "surge/ws/opcode.hpp"

namespace surge {
namespace {

constexpr std::size_t kOutputStep = 16 * 1024;  // room added per round when the output buffer is full
constexpr unsigned char kFlushTail[4] = {0x00, 0x00, 0xff, 0xff};

// zlib counts in uInt: feed a large span in pieces.
constexpr std::size_t kMaxZlibChunk = 1u << 30;

}  // namespace

void ZStreamDelete::operator()(z_stream_s* stream) const noexcept {
    if (inflating) inflateEnd(stream);
    else deflateEnd(stream);
    delete stream;
}

bool Deflater::init(int level, int window_bits, int mem_level) noexcept {
    if (window_bits < kMinDeflateWindowBits || window_bits > kMaxDeflateWindowBits) return false;
    auto* stream = new (std::nothrow) z_stream{};
    if (!stream) return false;
    // Negative window bits: raw deflate, no zlib header or checksum (RFC 7692 7.2.1).
    if (deflateInit2(stream, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        delete stream;
        return false;
    }
    stream_ = ZStreamPtr(stream, ZStreamDelete{false});
    window_bits_ = window_bits;
    return true;
}

void Deflater::reset() noexcept {
    if (stream_) deflateReset(stream_.get());
}

bool Deflater::compress(std::string_view message, ByteBuffer& out, bool keep_context) noexcept {
    z_stream& z = *stream_;
    const std::size_t start = out.size();
    const char* next = message.data();
    std::size_t left = message.size();
    for (;;) {
        const std::size_t piece = std::min(left, kMaxZlibChunk);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(next));
        z.avail_in = static_cast<uInt>(piece);
        const int flush = piece == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        // Deflate until this piece is taken and, at the end, the flush is complete: a sync flush is done when
        // zlib leaves room in the output (it then has nothing more to write).
        do {
            if (!out.reserve_more(std::max<std::size_t>(kOutputStep, deflateBound(&z, z.avail_in) / 4))) {
                out.clear();
                deflateReset(&z);
                return false;
            }
            std::span<char> room = out.spare();
            room = room.first(std::min(room.size(), kMaxZlibChunk));
            z.next_out = reinterpret_cast<Bytef*>(room.data());
            z.avail_out = static_cast<uInt>(room.size());
            const int status = deflate(&z, flush);
            out.commit(room.size() - z.avail_out);
            if (status == Z_STREAM_ERROR) {
                deflateReset(&z);
                return false;
            }
        } while (z.avail_in > 0 || z.avail_out == 0);
        next += piece;
        left -= piece;
        if (left == 0) break;
    }
    // A sync flush ends with an empty stored block, 00 00 ff ff, which the receiver adds back (RFC 7692 7.2.1).
    // After a flush, zlib writes nothing for an empty message; its payload is then one 0x00, the header of an
    // empty stored block (7.2.3.6), so that the tail the receiver adds completes a block.
    const std::size_t produced = out.size() - start;
    if (produced >= 4 && std::memcmp(out.data() + out.size() - 4, kFlushTail, 4) == 0) out.drop_back(4);
    else if (produced == 0 && !out.append(std::string_view("\0", 1))) return false;
    if (!keep_context) deflateReset(&z);
    return true;
}

std::uint16_t close_code_for(InflateStatus status) noexcept {
    switch (status) {
    case InflateStatus::Ok: return 0;
    case InflateStatus::TooBig: return close_code::kMessageTooBig;
    case InflateStatus::Corrupt: return close_code::kInvalidPayload;
    case InflateStatus::NoMemory: return close_code::kInternalError;
    }
    return close_code::kInternalError;
}

bool Inflater::init() noexcept {
    auto* stream = new (std::nothrow) z_stream{};
    if (!stream) return false;
    if (inflateInit2(stream, -kMaxDeflateWindowBits) != Z_OK) {
        delete stream;
        return false;
    }
    stream_ = ZStreamPtr(stream, ZStreamDelete{true});
    return true;
}

InflateStatus Inflater::inflate(std::span<const char> payload, ByteBuffer& out, std::size_t limit,
                                bool keep_context) noexcept {
    z_stream& z = *stream_;
    const std::size_t start = out.size();
    // An empty payload holds no block at all; the tail alone would open a stored block and leave the stream in
    // it. Some senders strip an empty message that far: it is an empty message.
    if (payload.empty()) return InflateStatus::Ok;
    auto fail = [&](InflateStatus status) {
        inflateReset(&z);
        return status;
    };
    // The payload, then the tail the sender removed: two inputs, no copy of the payload.
    const std::span<const char> inputs[2] = {payload,
                                             {reinterpret_cast<const char*>(kFlushTail), sizeof kFlushTail}};
    for (int i = 0; i < 2; ++i) {
        std::span<const char> input = inputs[i];
        while (!input.empty()) {
            const std::size_t piece = std::min(input.size(), kMaxZlibChunk);
            z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
            z.avail_in = static_cast<uInt>(piece);
            int status = Z_OK;
            do {
                // Room for at most one byte past the limit: producing that byte proves the message too big.
                const std::size_t produced = out.size() - start;
                if (produced > limit) return fail(InflateStatus::TooBig);
                const std::size_t allowed = limit + 1 - produced;
                if (out.capacity() == out.size() &&
                    !out.reserve_exact(std::min(allowed, std::max(kOutputStep, produced)))) {
                    return fail(InflateStatus::NoMemory);
                }
                std::span<char> room = out.spare();
                room = room.first(std::min({room.size(), allowed, kMaxZlibChunk}));
                z.next_out = reinterpret_cast<Bytef*>(room.data());
                z.avail_out = static_cast<uInt>(room.size());
                status = ::inflate(&z, Z_SYNC_FLUSH);
                out.commit(room.size() - z.avail_out);
                if (status == Z_MEM_ERROR) return fail(InflateStatus::NoMemory);
                if (status != Z_OK && status != Z_BUF_ERROR && status != Z_STREAM_END) {
                    return fail(InflateStatus::Corrupt);
                }
                // No progress with room left: zlib wants input that this piece does not have.
                if (status == Z_BUF_ERROR && z.avail_out > 0) break;
            } while (status != Z_STREAM_END && (z.avail_in > 0 || z.avail_out == 0));
            if (status == Z_STREAM_END) {
                // The sender ended the deflate stream with a final block (RFC 7692 7.2.3.4 allows it): nothing
                // of the payload may follow it, and the next message starts a new stream.
                if (i == 0 && (z.avail_in > 0 || piece < input.size())) return fail(InflateStatus::Corrupt);
                inflateReset(&z);
                if (out.size() - start > limit) return fail(InflateStatus::TooBig);
                return InflateStatus::Ok;
            }
            if (z.avail_in > 0) return fail(InflateStatus::Corrupt);
            input = input.subspan(piece);
        }
    }
    if (out.size() - start > limit) return fail(InflateStatus::TooBig);
    if (!keep_context) inflateReset(&z);
    return InflateStatus::Ok;
}

}  // namespace surge
