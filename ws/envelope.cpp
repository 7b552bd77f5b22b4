#include "surge/ws/envelope.hpp"

#include <openssl/evp.h>

#include <cstdint>

#include "surge/core/json_string.hpp"
#include "surge/core/utf8.hpp"

namespace surge {

std::string encode_envelope(std::string_view topic, std::uint64_t offset, std::string_view message, Opcode opcode,
                            std::string_view new_epoch) {
    const bool text = opcode == Opcode::Text && is_valid_utf8(message);
    std::string out;
    out.reserve(message.size() * (text ? 1 : 4) / (text ? 1 : 3) + topic.size() + 64);
    out.append("{\"topic\":");
    append_json_string(out, topic);
    out.append(",\"offset\":").append(std::to_string(offset));
    if (!new_epoch.empty()) {
        out.append(",\"epoch\":");
        append_json_string(out, new_epoch);
    }
    out.append(",\"data\":");
    if (text) {
        append_json_string(out, message);
    } else {
        const std::size_t at = out.size() + 1;
        out.append(2 + (message.size() + 2) / 3 * 4, '"');  // the quotes, and room for the base64 between them
        const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                            reinterpret_cast<const unsigned char*>(message.data()),
                                            static_cast<int>(message.size()));
        out.resize(at + static_cast<std::size_t>(written) + 1);  // EVP_EncodeBlock wrote a NUL: the closing quote
        out.back() = '"';
        out.append(",\"encoding\":\"base64\"");
    }
    out.push_back('}');
    return out;
}

std::string encode_event(std::string_view epoch, std::uint64_t sequence, std::string_view envelope) {
    std::string out;
    out.reserve(envelope.size() + epoch.size() + 40);
    out.append("id: ").append(epoch).append(":").append(std::to_string(sequence)).append("\ndata: ");
    out.append(envelope).append("\n\n");  // an envelope is one line: JSON strings escape line ends
    return out;
}

namespace {

// The topic's tag in a topic event id: FNV-1a (32 bits) of its name, as 8 hex digits.
void append_topic_tag(std::string& out, std::string_view topic) {
    std::uint32_t hash = 2166136261u;
    for (const char c : topic) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(hash >> shift) & 15]);
}

}  // namespace

std::string encode_topic_event(std::string_view topic, std::string_view topic_epoch, std::uint64_t offset,
                               std::string_view envelope) {
    std::string out;
    out.reserve(envelope.size() + topic_epoch.size() + 48);
    out.append("id: ").append(topic_epoch).append(":").append(std::to_string(offset)).push_back('~');
    append_topic_tag(out, topic);
    out.append("\ndata: ").append(envelope).append("\n\n");
    return out;
}

bool parse_topic_event_id(std::string_view id, std::string_view topic, std::string_view& epoch,
                          std::uint64_t& offset) noexcept {
    const std::size_t tilde = id.rfind('~');
    if (tilde == std::string_view::npos) return false;
    std::string tag;
    append_topic_tag(tag, topic);
    if (id.substr(tilde + 1) != tag) return false;
    return parse_event_id(id.substr(0, tilde), epoch, offset);
}

bool parse_event_id(std::string_view id, std::string_view& epoch, std::uint64_t& sequence) noexcept {
    const std::size_t colon = id.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size() || id.size() - colon - 1 > 20) {
        return false;
    }
    std::uint64_t value = 0;
    for (const char c : id.substr(colon + 1)) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return false;
        value = value * 10 + digit;
    }
    epoch = id.substr(0, colon);
    sequence = value;
    return true;
}

}  // namespace surge
