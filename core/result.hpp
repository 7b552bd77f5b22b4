// Result<T>: a value or a std::error_code, returned by every fallible public call of surge.
// Layer: core. Hot paths do not throw; setup code may throw, but what crosses the public API is a Result.
// A Result is [[nodiscard]] so that an ignored failure is a compiler warning, and reading value() of a failed
// Result is a programming error (asserted in debug builds).
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace surge {

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(std::error_code error) : state_(std::in_place_index<1>, error) {  // NOLINT: implicit by design
        assert(error && "a Result built from an error_code must carry an error");
    }

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & noexcept {
        assert(ok());
        return *std::get_if<0>(&state_);
    }
    const T& value() const& noexcept {
        assert(ok());
        return *std::get_if<0>(&state_);
    }
    T&& value() && noexcept {
        assert(ok());
        return std::move(*std::get_if<0>(&state_));
    }
    std::error_code error() const noexcept { return ok() ? std::error_code{} : *std::get_if<1>(&state_); }

private:
    std::variant<T, std::error_code> state_;
};

// Result<void>: success or an error code.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(std::error_code error) : error_(error) {}  // NOLINT: implicit by design

    bool ok() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return ok(); }
    std::error_code error() const noexcept { return error_; }

private:
    std::error_code error_;
};

// Builds the error_code for a negative errno as returned by io_uring's res and by surge's net/ functions.
inline std::error_code errno_code(int negative_errno) noexcept {
    return {-negative_errno, std::system_category()};
}

}  // namespace surge
