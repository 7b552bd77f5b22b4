# Warnings, sanitizers and the helper every surge target uses.
# surge_target_defaults(t) gives a target the project's warnings; sanitizers apply to the whole build so that
# libraries and tests agree on the runtime.

if(SURGE_SANITIZE)
    string(REPLACE ";" "," _surge_san "${SURGE_SANITIZE}")
    add_compile_options(-fsanitize=${_surge_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${_surge_san})
endif()

function(surge_target_defaults target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
    if(SURGE_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()

# Shipped binaries use mimalloc unless SURGE_USE_MIMALLOC is off (sanitizer presets turn it off: ASan and TSan
# bring their own allocator).
function(surge_shipped_binary target)
    surge_target_defaults(${target})
    if(SURGE_USE_MIMALLOC)
        target_link_libraries(${target} PRIVATE mimalloc)
    endif()
    install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
