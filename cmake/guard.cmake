# The dependency rule app -> ui -> core, enforced: core links Qt6::Core only,
# so the same library serves the GUI, the CLI, worker processes and a user's
# own program (docs/library.md).
#
#   include(cmake/guard.cmake)
#   poolscope_forbid_gui(poolscope_core)
#
# The check is deferred to the end of the top-level directory, when every
# target_link_libraries() call has been made, so it may be called anywhere.
# It walks the target's LINK_LIBRARIES and INTERFACE_LINK_LIBRARIES, and
# those of every non-Qt target they name (transitively), and fails the
# configure if any Qt module other than Core appears, even inside a generator
# expression. The include-level twin is tests/guard (ctest core_links_qtcore_only).

include_guard(GLOBAL)

# Qt modules core/ may link. CorePrivate is Core's private API, same library.
set(POOLSCOPE_ALLOWED_QT_MODULES Core CorePrivate)

function(poolscope_forbid_gui target)
    cmake_language(EVAL CODE
        "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL _poolscope_check_no_gui [[${target}]])")
endfunction()

function(_poolscope_check_no_gui target)
    if(NOT TARGET ${target})
        message(FATAL_ERROR "poolscope_forbid_gui: no target named '${target}'")
    endif()
    set(queue ${target})
    set(seen "")
    set(offences "")
    while(queue)
        list(POP_FRONT queue current)
        if(current IN_LIST seen)
            continue()
        endif()
        list(APPEND seen ${current})

        set(items "")
        get_target_property(imported ${current} IMPORTED)
        get_target_property(type ${current} TYPE)
        if(NOT imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
            get_target_property(direct ${current} LINK_LIBRARIES)
            if(direct)
                list(APPEND items ${direct})
            endif()
        endif()
        get_target_property(iface ${current} INTERFACE_LINK_LIBRARIES)
        if(iface)
            list(APPEND items ${iface})
        endif()

        foreach(item IN LISTS items)
            # Qt targets named anywhere in the item, genexes included:
            # Qt6::Gui, Qt::Widgets, $<$<CONFIG:Debug>:Qt6::Charts>, ...
            string(REGEX MATCHALL "Qt6?::[A-Za-z0-9_]+" qt_refs "${item}")
            foreach(ref IN LISTS qt_refs)
                string(REGEX REPLACE "^Qt6?::" "" module "${ref}")
                if(NOT module IN_LIST POOLSCOPE_ALLOWED_QT_MODULES)
                    list(APPEND offences "${current} -> ${ref}")
                endif()
            endforeach()
            # Raw library names or flags: -lQt6Gui, /usr/lib/libQt6Widgets.so
            if(item MATCHES "(^|[/ ]|-l|lib)Qt6([A-Za-z]+)" AND NOT item MATCHES "::")
                if(NOT CMAKE_MATCH_2 IN_LIST POOLSCOPE_ALLOWED_QT_MODULES)
                    list(APPEND offences "${current} -> ${item}")
                endif()
            endif()
            # Follow our own targets (not Qt's: Qt6::Core's dependencies are Qt's business).
            string(REGEX REPLACE "^\\$<(LINK_ONLY|BUILD_INTERFACE):(.*)>$" "\\2" plain "${item}")
            if(TARGET "${plain}" AND NOT plain MATCHES "^Qt6?::")
                list(APPEND queue "${plain}")
            endif()
        endforeach()
    endwhile()

    if(offences)
        list(REMOVE_DUPLICATES offences)
        list(JOIN offences "\n  " text)
        message(FATAL_ERROR
            "${target} must link Qt6::Core only (see cmake/guard.cmake), but links:\n  ${text}\n"
            "Move code that needs QtGui/QtWidgets/QtCharts to ui/ (poolscope_ui).")
    endif()
endfunction()
