// The doctest main for the unit and integration binaries. ctest runs each test case on its own by name
// (doctest_discover_tests passes --test-case=NAME), and a name that selects nothing would pass silently: doctest
// reports 0 of 0 as success. A name with a ';' did exactly that (CMake cut it into a list). So a run that was
// asked for test cases by name and ran none fails here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {

int g_started = 0;

struct CountingListener : doctest::IReporter {
    explicit CountingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { ++g_started; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("count", 1, CountingListener);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit()) return result;  // --help, --list-test-cases and the like
    bool by_name = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        by_name = by_name || arg.starts_with("--test-case=") || arg.starts_with("-tc=");
    }
    if (by_name && g_started == 0) {
        std::fprintf(stderr, "no test case matched the name given: nothing was tested\n");
        return 1;
    }
    return result;
}
