#include "surge/ws/token_list.hpp"

namespace surge {

std::string_view next_token(std::string_view list, std::size_t& pos) noexcept {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::size_t begin = pos;
    std::size_t end = comma;
    pos = comma + 1;
    auto trim = [](char c) { return c == ' ' || c == '\t' || c == '"'; };
    while (begin < end && trim(list[begin])) ++begin;
    while (end > begin && trim(list[end - 1])) --end;
    return list.substr(begin, end - begin);
}

bool TokenList::contains(std::string_view token) const noexcept {
    bool found = false;
    for_each([&](std::string_view t) {
        found = iequals(t, token);
        return !found;
    });
    return found;
}

bool TokenList::empty() const noexcept {
    bool any = false;
    for_each([&](std::string_view) {
        any = true;
        return false;
    });
    return !any;
}

}  // namespace surge
