// surge's version: the one place it is written. CMakeLists.txt reads it for project(VERSION), so the installed
// package, the tools' --version and a program built against the headers all say the same. Layer: core.
#pragma once

#include <string_view>

namespace surge {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr std::string_view kVersion = "0.1.0";

static_assert(kVersion.size() >= 5, "kVersion is \"MAJOR.MINOR.PATCH\", and agrees with the numbers above");

}  // namespace surge
