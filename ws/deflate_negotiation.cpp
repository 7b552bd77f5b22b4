#include "surge/ws/deflate_negotiation.hpp"

#include <algorithm>

#include "surge/ws/deflate.hpp"
#include "surge/ws/span_writer.hpp"

namespace surge {
namespace {

constexpr std::string_view kExtensionName = "permessage-deflate";

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Splits `list` at `separator` outside double quotes; calls fn(element) for each non-empty, trimmed element and
// stops when it returns false.
template <class Fn>
bool split(std::string_view list, char separator, Fn&& fn) {
    std::size_t begin = 0;
    bool quoted = false;
    for (std::size_t i = 0; i <= list.size(); ++i) {
        if (i < list.size()) {
            if (list[i] == '"') quoted = !quoted;
            if (quoted || list[i] != separator) continue;
        }
        const std::string_view element = trim(list.substr(begin, i - begin));
        begin = i + 1;
        if (!element.empty() && !fn(element)) return false;
    }
    return true;
}

// One parameter of an extension: a name and, optionally, a value (a token or a quoted string).
struct Parameter {
    std::string_view name;
    std::string_view value;
    bool has_value = false;
};

Parameter parse_parameter(std::string_view text) noexcept {
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) return {trim(text), {}, false};
    std::string_view value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return {trim(text.substr(0, eq)), value, true};
}

// A window size, 8..15, written as the RFC's grammar has it (no leading zero, no sign); 0 when invalid.
std::uint8_t parse_window_bits(std::string_view value) noexcept {
    if (value.size() == 1 && value[0] >= '8' && value[0] <= '9') return static_cast<std::uint8_t>(value[0] - '0');
    if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
        return static_cast<std::uint8_t>(10 + value[1] - '0');
    }
    return 0;
}

// One permessage-deflate offer or answer, its parameters read and checked for form (each at most once, known,
// values in range). Whether the values are acceptable is the caller's call.
struct Offer {
    bool valid = false;
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    std::uint8_t server_max_window_bits = 0;  // 0: absent
    std::uint8_t client_max_window_bits = 0;  // 0: absent or no value
    bool client_max_window_bits_present = false;
};

// `parameters`: the element's text after the extension name (";"-separated). Returns an invalid offer for an
// unknown or repeated parameter or a bad value.
Offer read_offer(std::string_view parameters) noexcept {
    Offer offer;
    bool seen_server_bits = false;
    const bool ok = split(parameters, ';', [&](std::string_view text) {
        const Parameter p = parse_parameter(text);
        if (iequals(p.name, "server_no_context_takeover")) {
            if (p.has_value || offer.server_no_context_takeover) return false;
            offer.server_no_context_takeover = true;
        } else if (iequals(p.name, "client_no_context_takeover")) {
            if (p.has_value || offer.client_no_context_takeover) return false;
            offer.client_no_context_takeover = true;
        } else if (iequals(p.name, "server_max_window_bits")) {
            if (seen_server_bits || !p.has_value) return false;
            seen_server_bits = true;
            offer.server_max_window_bits = parse_window_bits(p.value);
            if (offer.server_max_window_bits == 0) return false;
        } else if (iequals(p.name, "client_max_window_bits")) {
            if (offer.client_max_window_bits_present) return false;
            offer.client_max_window_bits_present = true;
            if (p.has_value) {
                offer.client_max_window_bits = parse_window_bits(p.value);
                if (offer.client_max_window_bits == 0) return false;
            }
        } else {
            return false;  // a parameter this extension does not define: the offer is declined
        }
        return true;
    });
    offer.valid = ok;
    return offer;
}

// Calls fn(parameters) for each permessage-deflate element of every Sec-WebSocket-Extensions field, in order;
// stops when it returns false. Other extensions are skipped. Returns false if fn stopped it.
template <class Fn>
bool for_each_deflate_element(const HttpHeaders& headers, Fn&& fn) {
    for (std::size_t h = 0; h < headers.header_count; ++h) {
        if (!iequals(headers.headers[h].name, "Sec-WebSocket-Extensions")) continue;
        const bool went_on = split(headers.headers[h].value, ',', [&](std::string_view element) {
            const std::size_t semicolon = element.find(';');
            const std::string_view name = trim(element.substr(0, semicolon));
            if (!iequals(name, kExtensionName)) return true;
            return fn(semicolon == std::string_view::npos ? std::string_view{} : element.substr(semicolon + 1));
        });
        if (!went_on) return false;
    }
    return true;
}

void write_bits(SpanWriter& w, std::string_view name, std::uint8_t bits) {
    w << "; " << name << "=" << std::size_t{bits};
}

}  // namespace

DeflateAgreement negotiate_deflate(const HttpHeaders& request, const DeflateServerWishes& wishes,
                                   std::span<char> response) noexcept {
    DeflateAgreement agreement;
    const auto own_server_bits = static_cast<std::uint8_t>(
        std::clamp<int>(wishes.server_max_window_bits, kMinDeflateWindowBits, kMaxDeflateWindowBits));
    const auto own_client_bits = static_cast<std::uint8_t>(std::clamp<int>(wishes.client_max_window_bits, 8, 15));
    for_each_deflate_element(request, [&](std::string_view parameters) {
        const Offer offer = read_offer(parameters);
        if (!offer.valid) return true;
        DeflateParams p;
        p.server_max_window_bits = std::min(offer.server_max_window_bits ? offer.server_max_window_bits
                                                                         : std::uint8_t{15},
                                            own_server_bits);
        // The client demands a window zlib cannot make: decline this offer (RFC 7692 7.1.2.1 lets the server).
        if (p.server_max_window_bits < kMinDeflateWindowBits) return true;
        p.server_no_context_takeover = offer.server_no_context_takeover || !wishes.server_context_takeover;
        p.client_no_context_takeover = offer.client_no_context_takeover || !wishes.client_context_takeover;
        // The client's window can be narrowed only if the offer names the parameter (7.1.2.2).
        if (offer.client_max_window_bits_present) {
            p.client_max_window_bits =
                std::min(offer.client_max_window_bits ? offer.client_max_window_bits : std::uint8_t{15},
                         own_client_bits);
        }

        SpanWriter w(response);
        w << kExtensionName;
        if (p.server_no_context_takeover) w << "; server_no_context_takeover";
        if (p.client_no_context_takeover) w << "; client_no_context_takeover";
        if (offer.server_max_window_bits || p.server_max_window_bits < 15) {
            write_bits(w, "server_max_window_bits", p.server_max_window_bits);
        }
        if (offer.client_max_window_bits_present && p.client_max_window_bits < 15) {
            write_bits(w, "client_max_window_bits", p.client_max_window_bits);
        }
        agreement.response_size = w.finish();
        agreement.accepted = agreement.response_size > 0;
        agreement.params = p;
        return false;
    });
    return agreement;
}

std::size_t write_deflate_offer(std::span<char> out, const DeflateClientWishes& wishes) noexcept {
    SpanWriter w(out);
    w << kExtensionName;
    if (wishes.server_no_context_takeover) w << "; server_no_context_takeover";
    if (wishes.client_no_context_takeover) w << "; client_no_context_takeover";
    if (wishes.server_max_window_bits < 15) write_bits(w, "server_max_window_bits", wishes.server_max_window_bits);
    if (wishes.client_max_window_bits < 15) write_bits(w, "client_max_window_bits", wishes.client_max_window_bits);
    else w << "; client_max_window_bits";
    return w.finish();
}

DeflateAnswer read_deflate_answer(const HttpHeaders& response, const DeflateClientWishes& wishes,
                                  DeflateParams& params) noexcept {
    int answers = 0;
    int others = 0;
    Offer answer;
    for (std::size_t h = 0; h < response.header_count; ++h) {
        if (!iequals(response.headers[h].name, "Sec-WebSocket-Extensions")) continue;
        split(response.headers[h].value, ',', [&](std::string_view element) {
            const std::size_t semicolon = element.find(';');
            if (!iequals(trim(element.substr(0, semicolon)), kExtensionName)) {
                ++others;
            } else if (++answers == 1) {
                answer = read_offer(semicolon == std::string_view::npos ? std::string_view{}
                                                                        : element.substr(semicolon + 1));
            }
            return true;
        });
    }
    if (answers == 0 && others == 0) return DeflateAnswer::None;
    // One answer, and only to what was offered: anything else fails the connection (RFC 6455 9.1).
    if (answers != 1 || others != 0 || !answer.valid) return DeflateAnswer::Invalid;
    // The server must keep what the client asked for (7.1.1.1, 7.1.2.1) and may narrow the client's window only
    // if the offer allowed it (7.1.2.2).
    if (wishes.server_no_context_takeover && !answer.server_no_context_takeover) return DeflateAnswer::Invalid;
    if (wishes.server_max_window_bits < 15 &&
        (!answer.server_max_window_bits || answer.server_max_window_bits > wishes.server_max_window_bits)) {
        return DeflateAnswer::Invalid;
    }
    if (answer.client_max_window_bits_present &&
        (!answer.client_max_window_bits || answer.client_max_window_bits > wishes.client_max_window_bits)) {
        return DeflateAnswer::Invalid;
    }
    params.server_no_context_takeover = answer.server_no_context_takeover;
    params.client_no_context_takeover = answer.client_no_context_takeover || wishes.client_no_context_takeover;
    params.server_max_window_bits = answer.server_max_window_bits ? answer.server_max_window_bits : 15;
    params.client_max_window_bits = answer.client_max_window_bits_present ? answer.client_max_window_bits
                                                                          : wishes.client_max_window_bits;
    return DeflateAnswer::Accepted;
}

}  // namespace surge
