#include "surge/core/result.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "surge/core/function_ref.hpp"
#include "surge/core/log.hpp"
#include "surge/core/random_hex.hpp"

using namespace surge;

TEST_CASE("Result carries a value or an error") {
    Result<std::string> ok = std::string("value");
    CHECK(ok.ok());
    CHECK(ok.value() == "value");
    CHECK_FALSE(ok.error());
    Result<int> bad = errno_code(-ECONNRESET);
    CHECK_FALSE(bad);
    CHECK(bad.error() == std::errc::connection_reset);
    Result<void> fine;
    CHECK(fine.ok());
    Result<void> failed = std::make_error_code(std::errc::timed_out);
    CHECK(failed.error() == std::errc::timed_out);
}

TEST_CASE("log levels parse and filter") {
    LogLevel level = LogLevel::Info;
    CHECK(parse_log_level("debug", level));
    CHECK(level == LogLevel::Debug);
    CHECK_FALSE(parse_log_level("loud", level));
    CHECK(level == LogLevel::Debug);
    const LogLevel saved = log_level();
    set_log_level(LogLevel::Warn);
    CHECK_FALSE(log_enabled(LogLevel::Info));
    CHECK(log_enabled(LogLevel::Error));
    int evaluated = 0;
    SURGE_LOG_INFO("not formatted %d", ++evaluated);  // below the level: arguments are not evaluated
    CHECK(evaluated == 0);
    set_log_level(saved);
}

TEST_CASE("FunctionRef calls without owning") {
    int calls = 0;
    auto add = [&](int x) { calls += x; return calls; };
    FunctionRef<int(int)> ref = add;
    CHECK(ref);
    CHECK(ref(2) == 2);
    CHECK(ref(3) == 5);
    FunctionRef<int(int)> empty;
    CHECK_FALSE(empty);
}

TEST_CASE("random_hex gives the digits asked for, different each time") {
    for (const std::size_t digits : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                                     std::size_t{48}}) {
        const std::string id = random_hex(digits);
        CHECK(id.size() == digits);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    }
    // 64 random bits twice: equal once in 2^64. In a long one, each place of every draw's 8 digits takes more than
    // one value: a place stuck at one digit would mean bits never drawn.
    CHECK(random_hex(16) != random_hex(16));
    const std::string long_id = random_hex(4096);
    for (std::size_t at = 0; at < 16; ++at) {
        bool varies = false;
        for (std::size_t i = at; i + 16 < long_id.size() && !varies; i += 16) varies = long_id[i] != long_id[at];
        CHECK(varies);
    }
}
