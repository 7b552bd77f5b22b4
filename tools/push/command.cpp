#include "tools/push/command.hpp"

#include <algorithm>
#include <cstdint>

#include "surge/core/json_string.hpp"
#include "surge/core/utf8.hpp"

namespace surge::push {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class JsonReader {
public:
    explicit JsonReader(std::string_view text) : text_(text) {}

    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
            ++at_;
        }
    }
    bool take(char c) {
        skip_space();
        if (at_ >= text_.size() || text_[at_] != c) return false;
        ++at_;
        return true;
    }
    bool at_end() {
        skip_space();
        return at_ == text_.size();
    }

    // A JSON string, decoded to UTF-8.
    bool string(std::string& out) {
        if (!take('"')) return false;
        out.clear();
        while (at_ < text_.size()) {
            const char c = text_[at_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;  // control characters must be escaped
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (at_ >= text_.size()) return false;
            const char e = text_[at_++];
            switch (e) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                std::uint32_t code = 0;
                if (!hex4(code)) return false;
                if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate must be followed by a low one
                    std::uint32_t low = 0;
                    if (at_ + 2 > text_.size() || text_[at_] != '\\' || text_[at_ + 1] != 'u') return false;
                    at_ += 2;
                    if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                } else if (code >= 0xDC00 && code <= 0xDFFF) {
                    return false;
                }
                append_utf8(out, code);
                break;
            }
            default: return false;
            }
        }
        return false;  // no closing quote
    }

    char peek() {
        skip_space();
        return at_ < text_.size() ? text_[at_] : '\0';
    }
    // A non-negative JSON integer that fits 64 bits (no sign, fraction or exponent).
    bool unsigned_integer(std::uint64_t& out) {
        skip_space();
        const std::size_t start = at_;
        out = 0;
        while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
            const auto digit = static_cast<std::uint64_t>(text_[at_] - '0');
            if (out > (UINT64_MAX - digit) / 10) return false;
            out = out * 10 + digit;
            ++at_;
        }
        if (at_ == start || (at_ - start > 1 && text_[start] == '0')) return false;  // none, or a leading zero
        return at_ >= text_.size() || (text_[at_] != '.' && text_[at_] != 'e' && text_[at_] != 'E');
    }

private:
    bool hex4(std::uint32_t& out) {
        if (at_ + 4 > text_.size()) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int digit = hex_value(text_[at_++]);
            if (digit < 0) return false;
            out = out * 16 + static_cast<std::uint32_t>(digit);
        }
        return true;
    }
    static void append_utf8(std::string& out, std::uint32_t code) {
        if (code < 0x80) {
            out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else if (code < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (code >> 18)));
            out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        }
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

}  // namespace

bool parse_command(std::string_view json, Command& out, std::string& error) {
    JsonReader reader(json);
    out = Command{};
    bool has_action = false, has_since = false, has_epoch = false, has_id = false;
    if (!reader.take('{')) {
        error = "a command is a JSON object";
        return false;
    }
    bool first = true;
    while (!reader.take('}')) {
        std::string key;
        if ((!first && !reader.take(',')) || !reader.string(key) || !reader.take(':')) {
            error = "a command is a JSON object of \"key\": value members";
            return false;
        }
        first = false;
        if (key == "subscribe" || key == "unsubscribe") {
            if (has_action || !reader.string(out.topic)) {
                error = "one \"subscribe\" or \"unsubscribe\", with a topic string";
                return false;
            }
            out.action = key == "subscribe" ? Action::Subscribe : Action::Unsubscribe;
            has_action = true;
        } else if (key == "since") {
            std::uint64_t offset = 0;
            if (has_since || !reader.unsigned_integer(offset)) {
                error = "\"since\" is an offset: an integer from 0";
                return false;
            }
            out.since = offset;
            has_since = true;
        } else if (key == "epoch") {
            if (has_epoch || !reader.string(out.epoch)) {
                error = "\"epoch\" is a string";
                return false;
            }
            has_epoch = true;
        } else if (key == "id") {
            std::string text;
            std::uint64_t number = 0;
            if (has_id) {
                error = "one \"id\"";
                return false;
            }
            if (reader.peek() == '"') {
                if (!reader.string(text)) {
                    error = "\"id\" is a string or an integer";
                    return false;
                }
                append_json_string(out.id_json, text);
            } else if (reader.unsigned_integer(number)) {
                out.id_json = std::to_string(number);
            } else {
                error = "\"id\" is a string or an integer";
                return false;
            }
            has_id = true;
        } else {
            error = "unknown member \"" + key.substr(0, 64) + "\" (subscribe, unsubscribe, since, epoch, id)";
            return false;
        }
    }
    if (!reader.at_end()) {
        error = "one JSON object per message";
        return false;
    }
    if (!has_action) {
        error = "expected {\"subscribe\":\"topic\"} or {\"unsubscribe\":\"topic\"}";
        return false;
    }
    if (out.action == Action::Unsubscribe && (has_since || has_epoch)) {
        error = "\"since\" and \"epoch\" go with \"subscribe\"";
        return false;
    }
    return true;
}

bool valid_topic(std::string_view topic, std::size_t max_bytes) {
    if (topic.empty() || topic.size() > max_bytes || !is_valid_utf8(topic)) return false;
    return std::none_of(topic.begin(), topic.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int high = hex_value(in[i + 1]);
            const int low = hex_value(in[i + 2]);
            if (high < 0 || low < 0) return false;
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::string query_parameter(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.size() <= name.size() || !pair.starts_with(name) || pair[name.size()] != '=') continue;
        std::string value;
        return percent_decode(pair.substr(name.size() + 1), value, true) ? value : std::string();
    }
    return {};
}

bool positions_from_query(std::string_view query, QueryPositions& out, std::string& error) {
    out = {};
    out.epoch = query_parameter(query, "epoch");
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (!pair.starts_with("since=")) continue;
        std::string_view list = pair.substr(6);
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            const std::string_view entry = list.substr(0, comma);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
            const std::size_t colon = entry.rfind(':');
            std::string topic;
            std::uint64_t offset = 0;
            JsonReader digits(colon == std::string_view::npos ? std::string_view{} : entry.substr(colon + 1));
            if (colon == std::string_view::npos || !percent_decode(entry.substr(0, colon), topic, true) ||
                topic.empty() || !digits.unsigned_integer(offset) || !digits.at_end()) {
                error = "since: expected topic:offset[,topic:offset...], got '" + std::string(entry.substr(0, 64)) + "'";
                return false;
            }
            out.since.emplace_back(std::move(topic), offset);
        }
    }
    return true;
}

std::vector<std::string> topics_from_query(std::string_view query) {
    std::vector<std::string> topics;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (!pair.starts_with("topics=")) continue;
        std::string_view list = pair.substr(7);
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            std::string topic;
            if (percent_decode(list.substr(0, comma), topic, true) && !topic.empty()) topics.push_back(std::move(topic));
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
    }
    return topics;
}

}  // namespace surge::push
