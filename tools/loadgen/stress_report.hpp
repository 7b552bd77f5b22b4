// surge-stress's final report: what the ramp reached, why connections failed, what the server's and the
// kernel's memory grew by per connection held, and the push's figures, printed and optionally written as JSON.
// Layer: tools (load generators).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "surge/ws/client.hpp"
#include "tools/loadgen/process_stats.hpp"
#include "tools/loadgen/push_probe.hpp"

namespace surge::loadgen {

inline constexpr std::size_t kFailureKinds = static_cast<std::size_t>(ClientFailure::Count);
inline constexpr std::size_t kVerifyMismatch = kFailureKinds;  // an extra reason: the echo was not what was sent
inline constexpr std::size_t kHttpStatuses = 600;

// The memory of a set of server processes and all their descendants.
struct ServerMemory {
    std::uint64_t rss_kb = 0;
    std::uint64_t pss_kb = 0;
};
ServerMemory server_memory(const std::vector<pid_t>& roots);

struct StressReport {
    std::uint64_t target = 0;
    std::uint64_t verified = 0;  // when the ramp ended (or the run was interrupted)
    std::uint64_t failed = 0;
    std::uint64_t dropped = 0;   // verified, then lost while held
    std::string verify;          // echo, broadcast or none
    double ramp_seconds = 0;
    double hold_seconds = 0;
    unsigned procs = 0;
    unsigned sources = 0;
    bool measured_server = false;  // server pids were given
    ServerMemory server_before, server_held;
    KernelMemory kernel_before{}, kernel_held{};
    std::array<std::uint64_t, kFailureKinds + 1> reasons{};  // by ClientFailure, then kVerifyMismatch
    std::array<std::uint64_t, kHttpStatuses> statuses{};     // handshake answers by HTTP status
    const PushReport* push = nullptr;                        // with --push
};

void print_stress_report(const StressReport& report);
// Writes the report to `path` as JSON; false (after saying why on stderr) when the file cannot be written.
bool write_stress_json(const StressReport& report, const std::string& path);

}  // namespace surge::loadgen
