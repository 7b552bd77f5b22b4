// The consumer's own core/log.hpp: named like surge's core/log.hpp on purpose. surge's headers are reached as
// <surge/core/...>, so this one is the consumer's "core/log.hpp" and surge's own includes never pick it up.
#pragma once

namespace app {
inline constexpr const char* kGreeting = "hello from a consumer";
}
