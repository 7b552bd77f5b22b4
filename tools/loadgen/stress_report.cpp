#include "tools/loadgen/stress_report.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tools/loadgen/options.hpp"

namespace surge::loadgen {
namespace {

double per_connection(std::uint64_t kb, std::uint64_t connections) {
    return connections ? double(kb) * 1024.0 / double(connections) : 0.0;
}

double growth_per_connection(std::uint64_t before_kb, std::uint64_t after_kb, std::uint64_t connections) {
    return after_kb > before_kb ? per_connection(after_kb - before_kb, connections) : 0.0;
}

std::uint64_t kernel_kb(const KernelMemory& m) { return m.slab + m.kernel_stack + m.page_tables + m.tcp_buffers; }

std::string reason_name(std::size_t reason) {
    return reason == kVerifyMismatch ? "verify_mismatch"
                                     : std::string(client_failure_name(static_cast<ClientFailure>(reason)));
}

// What the report derives from the raw figures. A connection's cost is what the server grew by, over the
// connections held. PSS, not RSS: the workers share their libraries' pages, which summed RSS would count once per
// worker.
struct Derived {
    std::uint64_t kernel_delta, available_delta;
    double bytes_per_connection, total_per_connection, rss_per_connection, kernel_per_connection;
    explicit Derived(const StressReport& r)
        : kernel_delta(kernel_kb(r.kernel_held) > kernel_kb(r.kernel_before)
                           ? kernel_kb(r.kernel_held) - kernel_kb(r.kernel_before)
                           : 0),
          available_delta(r.kernel_before.mem_available > r.kernel_held.mem_available
                              ? r.kernel_before.mem_available - r.kernel_held.mem_available
                              : 0),
          bytes_per_connection(growth_per_connection(r.server_before.pss_kb, r.server_held.pss_kb, r.verified)),
          total_per_connection(per_connection(r.server_held.pss_kb, r.verified)),
          rss_per_connection(growth_per_connection(r.server_before.rss_kb, r.server_held.rss_kb, r.verified)),
          kernel_per_connection(per_connection(kernel_delta, r.verified)) {}
};
}  // namespace

ServerMemory server_memory(const std::vector<pid_t>& roots) {
    ServerMemory m;
    for (pid_t root : roots) {
        for (pid_t pid : process_tree(root)) {
            m.rss_kb += rss_kb(pid);
            m.pss_kb += pss_kb(pid);
        }
    }
    return m;
}

void print_stress_report(const StressReport& r) {
    const Derived d(r);
    std::printf("\nsurge-stress: %llu of %llu connections verified (%s), ramp %.1f s, %llu failed, %llu dropped "
                "while held\n",
                static_cast<unsigned long long>(r.verified), static_cast<unsigned long long>(r.target),
                r.verify.c_str(), r.ramp_seconds, static_cast<unsigned long long>(r.failed),
                static_cast<unsigned long long>(r.dropped));
    for (std::size_t i = 0; i < r.reasons.size(); ++i) {
        if (r.reasons[i]) {
            std::printf("  failed: %s %llu\n", reason_name(i).c_str(), static_cast<unsigned long long>(r.reasons[i]));
        }
    }
    for (std::size_t s = 0; s < r.statuses.size(); ++s) {
        if (r.statuses[s]) std::printf("  handshake status %zu: %llu\n", s, static_cast<unsigned long long>(r.statuses[s]));
    }
    if (r.measured_server) {
        std::printf("  server memory: PSS %llu KiB (before %llu KiB), RSS %llu KiB (before %llu KiB)\n",
                    static_cast<unsigned long long>(r.server_held.pss_kb),
                    static_cast<unsigned long long>(r.server_before.pss_kb),
                    static_cast<unsigned long long>(r.server_held.rss_kb),
                    static_cast<unsigned long long>(r.server_before.rss_kb));
        std::printf("  server user space per connection: %.0f bytes grown (PSS; %.0f by summed RSS), %.0f bytes "
                    "counting the whole of every process\n",
                    d.bytes_per_connection, d.rss_per_connection, d.total_per_connection);
    }
    std::printf("  kernel memory (slab, stacks, page tables, TCP buffers; both ends) +%llu KiB: %.0f bytes per "
                "connection; MemAvailable -%llu KiB\n",
                static_cast<unsigned long long>(d.kernel_delta), d.kernel_per_connection,
                static_cast<unsigned long long>(d.available_delta));
    if (r.push) print_push(*r.push);
}

bool write_stress_json(const StressReport& r, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "surge-stress: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    const Derived d(r);
    JsonWriter j(f);
    j.begin_object();
    j.integer("target", r.target);
    j.integer("verified", r.verified);
    j.integer("failed", r.failed);
    j.integer("dropped_while_held", r.dropped);
    j.string("verify", r.verify);
    j.number("ramp_seconds", r.ramp_seconds);
    j.number("hold_seconds", r.hold_seconds);
    j.integer("procs", r.procs);
    j.integer("sources", r.sources);
    j.integer("server_rss_kb", r.server_held.rss_kb);
    j.integer("server_rss_kb_before", r.server_before.rss_kb);
    j.integer("server_pss_kb", r.server_held.pss_kb);
    j.integer("server_pss_kb_before", r.server_before.pss_kb);
    j.number("server_bytes_per_connection", d.bytes_per_connection);
    j.number("server_rss_bytes_per_connection", d.rss_per_connection);
    j.number("server_total_bytes_per_connection", d.total_per_connection);
    j.integer("kernel_kb_delta", d.kernel_delta);
    j.number("kernel_bytes_per_connection", d.kernel_per_connection);
    j.integer("mem_available_kb_delta", d.available_delta);
    j.begin_object("failures");
    for (std::size_t i = 0; i < r.reasons.size(); ++i) {
        if (i != static_cast<std::size_t>(ClientFailure::None)) j.integer(reason_name(i), r.reasons[i]);
    }
    j.end_object();
    j.begin_object("handshake_status");
    for (std::size_t s = 0; s < r.statuses.size(); ++s) {
        if (r.statuses[s]) j.integer(std::to_string(s), r.statuses[s]);
    }
    j.end_object();
    if (r.push) write_push_json(j, *r.push);
    j.end_object();
    std::fclose(f);
    return true;
}

}  // namespace surge::loadgen
