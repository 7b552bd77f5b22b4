#include "tools/loadgen/process_stats.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <cstdio>
#include <cstring>
#include <string>

namespace surge::loadgen {

std::vector<pid_t> process_tree(pid_t pid) {
    std::vector<pid_t> tree;
    if (::kill(pid, 0) != 0 && errno != EPERM) return tree;
    tree.push_back(pid);
    for (std::size_t i = 0; i < tree.size(); ++i) {
        // Each thread lists the children it started; a server's workers are the main thread's.
        const std::string path = "/proc/" + std::to_string(tree[i]) + "/task/" + std::to_string(tree[i]) + "/children";
        std::FILE* f = std::fopen(path.c_str(), "r");
        if (!f) continue;
        long child = 0;
        while (std::fscanf(f, "%ld", &child) == 1) tree.push_back(static_cast<pid_t>(child));
        std::fclose(f);
    }
    return tree;
}

namespace {

// The first "<field> <n> kB" line of a /proc file.
std::uint64_t read_kb_field(const std::string& path, const char* format) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, format, &kb) == 1) break;
    }
    std::fclose(f);
    return kb;
}

}  // namespace

std::uint64_t rss_kb(pid_t pid) { return read_kb_field("/proc/" + std::to_string(pid) + "/status", "VmRSS: %llu kB"); }

std::uint64_t pss_kb(pid_t pid) {
    return read_kb_field("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss: %llu kB");
}

double cpu_seconds(pid_t pid) {
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f) return 0;
    char text[1024];
    const std::size_t got = std::fread(text, 1, sizeof text - 1, f);
    std::fclose(f);
    text[got] = '\0';
    // After the command's closing parenthesis (the name may hold spaces): fields 3.., utime and stime are 14, 15.
    const char* at = std::strrchr(text, ')');
    unsigned long long user = 0, system = 0;
    if (!at || std::sscanf(at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user, &system) != 2) {
        return 0;
    }
    return double(user + system) / double(::sysconf(_SC_CLK_TCK));
}

KernelMemory read_kernel_memory() {
    KernelMemory m;
    if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
        char name[64];
        unsigned long long kb = 0;
        while (std::fscanf(f, "%63s %llu kB\n", name, &kb) == 2) {
            if (!std::strcmp(name, "MemAvailable:")) m.mem_available = kb;
            else if (!std::strcmp(name, "Slab:")) m.slab = kb;
            else if (!std::strcmp(name, "KernelStack:")) m.kernel_stack = kb;
            else if (!std::strcmp(name, "PageTables:")) m.page_tables = kb;
        }
        std::fclose(f);
    }
    if (std::FILE* f = std::fopen("/proc/net/sockstat", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f)) {
            if (const char* mem = std::strncmp(line, "TCP:", 4) == 0 ? std::strstr(line, " mem ") : nullptr) {
                m.tcp_buffers = std::strtoull(mem + 5, nullptr, 10) * static_cast<std::uint64_t>(::getpagesize()) / 1024;
            }
        }
        std::fclose(f);
    }
    return m;
}

}  // namespace surge::loadgen
