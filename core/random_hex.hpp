// Random identifiers as lowercase hex: a server's history epoch, a node's id on the broker, the password of the
// workers' hub. Layer: core. Drawn from std::random_device (the kernel's entropy on Linux), once per identifier:
// these are made a few times in a process's life, so no generator is kept.
#pragma once

#include <cstddef>
#include <string>

namespace surge {

// `digits` hex digits (0-9, a-f), 4 random bits each.
std::string random_hex(std::size_t digits);

}  // namespace surge
