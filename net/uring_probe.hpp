// Does this kernel, in this process, give the io_uring backend everything it relies on? Layer: net.
// Answered by trying, on a throwaway ring: setting up a ring at all (containers and the io_uring_disabled sysctl
// often forbid it), the opcodes, a provided-buffer ring, and a multishot accept and multishot recv over a real
// socket pair. Version numbers are never consulted; a kernel that backports a feature passes, one that lacks it
// fails with the name of what is missing.
#pragma once

#include <string>

namespace surge::net {

// Empty when io_uring can be used; otherwise what is missing, for the start-up log. Runs once per process.
const std::string& uring_unsupported_reason();

}  // namespace surge::net
