#include "surge/core/result.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "surge/core/function_ref.hpp"
#include "surge/core/log.hpp"

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
