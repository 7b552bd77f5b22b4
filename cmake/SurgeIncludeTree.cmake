# The headers' include root: code that uses surge writes #include <surge/ws/server.hpp>, never "ws/server.hpp",
# so surge's core/, net/ and ws/ cannot clash with a project's own directories of those names.
#
# The sources keep the repository's layout (core/, net/, ws/ at the top); the build gives them the surge/ prefix
# with a tree of its own, ${SURGE_INCLUDE_ROOT}/surge/{core,net,ws}, each a symbolic link to its source
# directory (so an edited header is seen at once, with nothing copied), plus the generated version.hpp.
# Installed, the same tree is real directories under <prefix>/include/surge.
set(SURGE_INCLUDE_ROOT "${PROJECT_BINARY_DIR}/include")
file(MAKE_DIRECTORY "${SURGE_INCLUDE_ROOT}/surge")
foreach(layer core net ws)
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/${layer}" "${SURGE_INCLUDE_ROOT}/surge/${layer}" SYMBOLIC)
endforeach()
configure_file("${PROJECT_SOURCE_DIR}/cmake/version.hpp.in" "${SURGE_INCLUDE_ROOT}/surge/version.hpp" @ONLY)
