#!/usr/bin/env python3
"""Every C++ snippet in README.md compiles, warning-free, with -Wall -Wextra -Wpedantic -Werror, so a user who
builds with -Werror can copy them. A snippet with main() is compiled as it is; any other is the body of a
function that gives it what the text around it assumes (`server`; the bytes `received`, and `reply` for the bytes
to write back), with its #include lines moved to the top. The body is a block of its own, so a snippet may declare
its own `server`.

Usage: readme_snippets_test.py CXX SOURCE_ROOT INCLUDE_ROOT   (exit 0 on success; INCLUDE_ROOT holds surge/)
"""
import pathlib
import re
import subprocess
import sys
import tempfile

FLAGS = ["-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"]
PRELUDE = """#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include "surge/ws/server.hpp"
"""


def translation_unit(block):
    if re.search(r"\bint main\(", block):
        return block
    includes = [line for line in block.splitlines() if line.startswith("#include")]
    body = "\n".join(line for line in block.splitlines() if not line.startswith("#include"))
    return (PRELUDE + "\n".join(includes) +
            "\n\n[[maybe_unused]] static void snippet([[maybe_unused]] surge::Server& server,\n"
            "                                      [[maybe_unused]] std::string_view received,\n"
            "                                      [[maybe_unused]] std::string& reply) {\n{\n" +
            body + "\n}\n}\n")


def main():
    cxx, root, include_root = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    blocks = re.findall(r"```cpp\n(.*?)```", (root / "README.md").read_text(), re.S)
    if not blocks:
        print("FAIL: no C++ snippet found in README.md")
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as directory:
        for n, block in enumerate(blocks, 1):
            source = pathlib.Path(directory) / ("snippet%d.cpp" % n)
            source.write_text(translation_unit(block))
            done = subprocess.run([cxx, *FLAGS, "-I", include_root, str(source)], capture_output=True, text=True)
            first = block.strip().splitlines()[0]
            if done.returncode != 0:
                failed += 1
                print("FAIL: README snippet %d (%s):\n%s" % (n, first, done.stderr[:3000]), flush=True)
            else:
                print("README snippet %d compiles: %s" % (n, first), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
