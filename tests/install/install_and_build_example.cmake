# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DCONFIG=...]
#       [-DGENERATOR=...] [-DCXX_COMPILER=...] [-DCXX_FLAGS=...]
#       [-DEXE_LINKER_FLAGS=...] [-DEXAMPLE=library-demo] [-DMPIEXEC=...]
#       -P install_and_build_example.cmake
#
# What a user does (docs/library.md): install PoolScope to a prefix, then build
# examples/<EXAMPLE> against it with find_package(PoolScope) and run it.
# The example uses the compiler and flags of the build under test, so a
# sanitizer build links its instrumented library correctly.
#
# EXAMPLE=mpi-demo (PoolScope::mpi) runs it under `MPIEXEC --oversubscribe -n 3`
# (static launch) and alone (it spawns ranks of itself), then checks what a
# package built without MPI does: the same prefix minus the MPI pool's files
# still builds library-demo, and find_package(PoolScope COMPONENTS mpi) fails
# with a message that says why.
cmake_minimum_required(VERSION 3.21)

foreach(v BUILD_DIR SOURCE_DIR WORK_DIR)
    if(NOT ${v})
        message(FATAL_ERROR "install_and_build_example: ${v} is not set")
    endif()
endforeach()

if(NOT EXAMPLE)
    set(EXAMPLE library-demo)
endif()
set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/${EXAMPLE}")
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

# configure_example(<example> <build dir> <prefix> <out var>): the cmake
# command line that configures examples/<example> against <prefix>.
function(configure_example example build pfx out)
    set(c "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/${example}" -B "${build}"
        "-DCMAKE_PREFIX_PATH=${pfx}"
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
    if(GENERATOR)
        list(APPEND c -G "${GENERATOR}")
    endif()
    if(CONFIG)
        list(APPEND c "-DCMAKE_BUILD_TYPE=${CONFIG}")
    endif()
    if(CXX_COMPILER)
        list(APPEND c "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
    endif()
    if(CXX_FLAGS)
        list(APPEND c "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
    endif()
    if(EXE_LINKER_FLAGS)
        list(APPEND c "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
    endif()
    set(${out} "${c}" PARENT_SCOPE)
endfunction()

configure_example(${EXAMPLE} "${example_build}" "${prefix}" configure)
run(${configure})

# The package must come from the fresh prefix, not from somewhere else.
file(STRINGS "${example_build}/CMakeCache.txt" found_dir REGEX "^PoolScope_DIR:")
message(STATUS "${found_dir}")
if(NOT found_dir MATCHES "=${prefix}/")
    message(FATAL_ERROR "PoolScope was not found in ${prefix}: ${found_dir}")
endif()

run("${CMAKE_COMMAND}" --build "${example_build}" ${config_args})

set(exe "${example_build}/${EXAMPLE}")
if(NOT EXISTS "${exe}" AND CONFIG)
    set(exe "${example_build}/${CONFIG}/${EXAMPLE}")
endif()
if(NOT EXAMPLE STREQUAL "mpi-demo")
    run("${exe}")
    return()
endif()

# ---- the MPI pool from the installed package
if(NOT MPIEXEC)
    message(FATAL_ERROR "install_and_build_example: EXAMPLE=mpi-demo needs MPIEXEC")
endif()
if(NOT EXISTS "${prefix}/include/poolscope/mpipool.h")
    message(FATAL_ERROR "mpipool.h was not installed")
endif()
run("${MPIEXEC}" --oversubscribe -n 3 "${exe}") # static: rank 0 + 2 worker ranks
run("${exe}")                                   # alone: spawns 2 ranks of itself

# ---- a package without the MPI pool: what a build without MPI installs
# (no PoolScopeMpiTargets*.cmake, no libpoolscope_mpi.a, no mpipool.h).
set(nompi "${WORK_DIR}/prefix-nompi")
file(COPY "${prefix}/" DESTINATION "${nompi}")
file(GLOB_RECURSE mpi_files "${nompi}/*PoolScopeMpiTargets*.cmake" "${nompi}/*libpoolscope_mpi.a"
     "${nompi}/include/poolscope/mpipool.h")
if(NOT mpi_files)
    message(FATAL_ERROR "no MPI pool files found in ${prefix} to leave out")
endif()
file(REMOVE ${mpi_files})
configure_example(library-demo "${WORK_DIR}/nompi-library-demo" "${nompi}" configure)
run(${configure})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/nompi-library-demo" ${config_args})
if(EXISTS "${WORK_DIR}/nompi-library-demo/library-demo")
    run("${WORK_DIR}/nompi-library-demo/library-demo")
else()
    run("${WORK_DIR}/nompi-library-demo/${CONFIG}/library-demo")
endif()
configure_example(mpi-demo "${WORK_DIR}/nompi-mpi-demo" "${nompi}" configure)
execute_process(COMMAND ${configure} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
    message(FATAL_ERROR "find_package(PoolScope COMPONENTS mpi) succeeded without the MPI pool")
endif()
string(FIND "${out}${err}" "PoolScope was built without the MPI pool" at)
if(at LESS 0)
    message(FATAL_ERROR "no clear message without the MPI pool:\n${out}${err}")
endif()
message(STATUS "without the MPI pool: find_package(PoolScope COMPONENTS mpi) fails and says why")
