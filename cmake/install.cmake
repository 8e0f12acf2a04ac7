# Installs the executor library so another CMake project can use it:
#   cmake --install build/release --prefix /opt/poolscope
#   find_package(PoolScope REQUIRED)            # with CMAKE_PREFIX_PATH=/opt/poolscope
#   target_link_libraries(app PRIVATE PoolScope::core)
#   find_package(PoolScope REQUIRED COMPONENTS mpi)  # the MPI pool, when it was built
#   target_link_libraries(app PRIVATE PoolScope::mpi)
#   find_package(PoolScope REQUIRED COMPONENTS attach)  # publish()/attach (docs/attach.md)
#   target_link_libraries(app PRIVATE PoolScope::attach)
# Included at the end of the top-level CMakeLists.txt, after core/ is defined.
# The installed include path comes from core/CMakeLists.txt:
#   $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
# so the headers go to <prefix>/include/poolscope.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(POOLSCOPE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/PoolScope"
    CACHE STRING "Where PoolScopeConfig.cmake is installed, relative to the prefix")
# The Qt version the config asks for (the top-level find_package minimum).
set(POOLSCOPE_QT_MIN_VERSION 6.4)

set_target_properties(poolscope_core PROPERTIES EXPORT_NAME core)

install(TARGETS poolscope_core
    EXPORT PoolScopeTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# mpipool.h only with the library that implements it.
if(TARGET poolscope_mpi)
    set(_poolscope_header_excludes "")
else()
    set(_poolscope_header_excludes PATTERN "mpipool.h" EXCLUDE)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/core/include/poolscope"
    DESTINATION include # = $<INSTALL_INTERFACE:include> in core/CMakeLists.txt
    FILES_MATCHING PATTERN "*.h" ${_poolscope_header_excludes})

install(EXPORT PoolScopeTargets
    NAMESPACE PoolScope::
    DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})

# The MPI pool (when built): PoolScope::mpi in an export set of its own, so
# only find_package(PoolScope COMPONENTS mpi) looks for MPI; a package built
# without MPI simply has no such file and says so when asked for it.
if(TARGET poolscope_mpi)
    set_target_properties(poolscope_mpi PROPERTIES EXPORT_NAME mpi)
    install(TARGETS poolscope_mpi
        EXPORT PoolScopeMpiTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(EXPORT PoolScopeMpiTargets
        NAMESPACE PoolScope::
        DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})
    export(EXPORT PoolScopeMpiTargets
        NAMESPACE PoolScope::
        FILE "${PROJECT_BINARY_DIR}/PoolScopeMpiTargets.cmake")
endif()

# The attach library (docs/attach.md): PoolScope::attach in an export set of
# its own, so only find_package(PoolScope COMPONENTS attach) looks for
# Qt6::Network. Its header sits in core/attach/include/poolscope.
set_target_properties(poolscope_attach PROPERTIES EXPORT_NAME attach)
install(TARGETS poolscope_attach
    EXPORT PoolScopeAttachTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES "${PROJECT_SOURCE_DIR}/core/attach/include/poolscope/attach.h"
    DESTINATION include/poolscope)
install(EXPORT PoolScopeAttachTargets
    NAMESPACE PoolScope::
    DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})
export(EXPORT PoolScopeAttachTargets
    NAMESPACE PoolScope::
    FILE "${PROJECT_BINARY_DIR}/PoolScopeAttachTargets.cmake")

# The panels for an application's own window (MonitorWidget, docs/library.md):
# PoolScope::ui in an export set of its own, so only find_package(PoolScope
# COMPONENTS ui) looks for Qt Widgets and Charts. The static library brings
# its resources as object libraries (qt_add_resources), installed with it.
if(TARGET poolscope_ui)
    set_target_properties(poolscope_ui PROPERTIES EXPORT_NAME ui)
    set(_poolscope_ui_targets poolscope_ui)
    foreach(_i RANGE 1 4)
        if(TARGET poolscope_ui_resources_${_i})
            list(APPEND _poolscope_ui_targets poolscope_ui_resources_${_i})
        endif()
    endforeach()
    install(TARGETS ${_poolscope_ui_targets}
        EXPORT PoolScopeUiTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        OBJECTS DESTINATION ${CMAKE_INSTALL_LIBDIR}/poolscope-ui-objects)
    install(FILES "${PROJECT_SOURCE_DIR}/ui/include/poolscope/ui/monitorwidget.h"
        DESTINATION include/poolscope/ui)
    install(EXPORT PoolScopeUiTargets
        NAMESPACE PoolScope::
        DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})
    export(EXPORT PoolScopeUiTargets
        NAMESPACE PoolScope::
        FILE "${PROJECT_BINARY_DIR}/PoolScopeUiTargets.cmake")
endif()

# Lesson 11 and `python3 -m poolscope_probe` from an installed PoolScope: the
# probe package and the Python examples (ui/teaching/programrun looks in
# <prefix>/share/poolscope).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/python/poolscope_probe"
    DESTINATION ${CMAKE_INSTALL_DATADIR}/poolscope/python
    PATTERN "__pycache__" EXCLUDE)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/examples/python"
    DESTINATION ${CMAKE_INSTALL_DATADIR}/poolscope/examples
    PATTERN "__pycache__" EXCLUDE)

configure_package_config_file(
    "${CMAKE_CURRENT_LIST_DIR}/PoolScopeConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/PoolScopeConfig.cmake"
    INSTALL_DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})

write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/PoolScopeConfigVersion.cmake"
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMajorVersion)

install(FILES
    "${PROJECT_BINARY_DIR}/PoolScopeConfig.cmake"
    "${PROJECT_BINARY_DIR}/PoolScopeConfigVersion.cmake"
    DESTINATION ${POOLSCOPE_INSTALL_CMAKEDIR})

# The build tree can be used without installing, too:
#   -DPoolScope_DIR=<build dir>
export(EXPORT PoolScopeTargets
    NAMESPACE PoolScope::
    FILE "${PROJECT_BINARY_DIR}/PoolScopeTargets.cmake")
