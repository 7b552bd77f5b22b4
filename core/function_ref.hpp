// FunctionRef<R(Args...)>: a non-owning, non-allocating reference to a callable. Layer: core.
// Used where a callback is only called during the call that receives it (the upgrade validator's origin check
// and subprotocol choice), so std::function's allocation and copy are not needed. The referenced callable must
// outlive the FunctionRef. A default-constructed FunctionRef is empty (test it with operator bool).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace surge {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
public:
    FunctionRef() noexcept = default;

    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
    FunctionRef(F&& f) noexcept  // NOLINT: implicit so that lambdas pass straight in
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* object, Args... args) -> R {
              return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
          }) {}

    explicit operator bool() const noexcept { return call_ != nullptr; }
    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_ = nullptr;
    R (*call_)(void*, Args...) = nullptr;
};

}  // namespace surge
