#include "surge/core/random_hex.hpp"

#include <random>

namespace surge {

std::string random_hex(std::size_t digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device source;
    std::string out(digits, '0');
    unsigned bits = 0;  // what is left of the last draw, 4 bits a digit
    int left = 0;
    for (char& digit : out) {
        if (left == 0) {
            bits = source();
            left = 8;  // std::random_device gives 32 bits a call
        }
        digit = kHex[bits & 15];
        bits >>= 4;
        --left;
    }
    return out;
}

}  // namespace surge
