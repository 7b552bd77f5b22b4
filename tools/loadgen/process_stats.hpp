// What the stress tool reads of the machine: a server's resident memory (with its worker processes) and the
// kernel's memory, from /proc. Layer: tools.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace surge::loadgen {

// `pid` and every process descended from it (a server started with --workers, say), or empty if it is gone.
std::vector<pid_t> process_tree(pid_t pid);
// VmRSS of one process, in KiB; 0 when it is gone.
std::uint64_t rss_kb(pid_t pid);
// Its proportional set size, in KiB: like RSS, but a page shared by n processes counts 1/n in each. Summed over
// a server's worker processes it is the physical memory they use; summed RSS counts every shared library page
// once per worker.
std::uint64_t pss_kb(pid_t pid);

// User and system CPU time of one process (every thread), in seconds; 0 when it is gone.
double cpu_seconds(pid_t pid);

// The /proc/meminfo fields a connection count moves, in KiB.
struct KernelMemory {
    std::uint64_t mem_available = 0;
    std::uint64_t slab = 0;           // kernel object caches: sockets, inodes, dentries, epoll items
    std::uint64_t kernel_stack = 0;
    std::uint64_t page_tables = 0;
    std::uint64_t tcp_buffers = 0;    // /proc/net/sockstat's TCP "mem" (pages), in KiB
};
KernelMemory read_kernel_memory();

}  // namespace surge::loadgen
