# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DCONFIG=...]
#       [-DGENERATOR=...] [-DCXX_COMPILER=...] [-DCXX_FLAGS=...]
#       [-DEXE_LINKER_FLAGS=...] [-DPREFIX_PATH=...] -P install_and_build_example.cmake
#
# What a user does (docs/library.md): install PoolScope to a prefix, then build
# examples/library-demo against it with find_package(PoolScope) and run it.
# The example uses the compiler and flags of the build under test, so a
# sanitizer build links its instrumented library correctly.
cmake_minimum_required(VERSION 3.21)

foreach(v BUILD_DIR SOURCE_DIR WORK_DIR)
    if(NOT ${v})
        message(FATAL_ERROR "install_and_build_example: ${v} is not set")
    endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/library-demo")
file(REMOVE_RECURSE "${WORK_DIR}")

function(run)
    string(REPLACE ";" " " shown "${ARGN}")
    message(STATUS "+ ${shown}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${shown}")
    endif()
endfunction()

set(config_args "")
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()
run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})

set(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/library-demo" -B "${example_build}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR)
    list(APPEND configure -G "${GENERATOR}")
endif()
if(CONFIG)
    list(APPEND configure "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(CXX_COMPILER)
    list(APPEND configure "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CXX_FLAGS)
    list(APPEND configure "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
if(EXE_LINKER_FLAGS)
    list(APPEND configure "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
endif()
run(${configure})

# The package must come from the fresh prefix, not from somewhere else.
file(STRINGS "${example_build}/CMakeCache.txt" found_dir REGEX "^PoolScope_DIR:")
message(STATUS "${found_dir}")
if(NOT found_dir MATCHES "=${prefix}/")
    message(FATAL_ERROR "PoolScope was not found in ${prefix}: ${found_dir}")
endif()

run("${CMAKE_COMMAND}" --build "${example_build}" ${config_args})

set(exe "${example_build}/library-demo")
if(NOT EXISTS "${exe}" AND CONFIG)
    set(exe "${example_build}/${CONFIG}/library-demo")
endif()
run("${exe}")
