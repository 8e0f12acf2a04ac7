# cmake -DSCAN_DIR=<dir> -P check_core_includes.cmake
# Fails, listing each offending line, if a C++ file under SCAN_DIR includes a
# QtGui / QtWidgets / QtCharts header. core/ must build against Qt6::Core
# alone (cmake/guard.cmake checks the link side at configure time).
cmake_minimum_required(VERSION 3.21)

if(NOT SCAN_DIR OR NOT IS_DIRECTORY "${SCAN_DIR}")
    message(FATAL_ERROR "usage: cmake -DSCAN_DIR=<dir> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()

# Prefixes: <QWidget also catches <QWidgetAction>, <QImage catches <QImageReader>, ...
set(forbidden
    QtGui QtWidgets QtCharts QtOpenGL QtOpenGLWidgets QtSvg
    QWidget QApplication QGuiApplication QPainter QChart QImage QColor
    QPixmap QIcon QFont QBrush QPen QWindow QScreen)
list(JOIN forbidden "|" alternatives)
set(pattern "^[ \t]*#[ \t]*include[ \t]*[<\"](${alternatives})")

file(GLOB_RECURSE files LIST_DIRECTORIES false
    "${SCAN_DIR}/*.h" "${SCAN_DIR}/*.hpp" "${SCAN_DIR}/*.hh"
    "${SCAN_DIR}/*.cpp" "${SCAN_DIR}/*.cc" "${SCAN_DIR}/*.cxx" "${SCAN_DIR}/*.inl")
list(SORT files)

set(found "")
foreach(f IN LISTS files)
    file(STRINGS "${f}" hits REGEX "${pattern}")
    foreach(line IN LISTS hits)
        file(RELATIVE_PATH rel "${SCAN_DIR}" "${f}")
        string(STRIP "${line}" line)
        list(APPEND found "${rel}: ${line}")
    endforeach()
endforeach()

list(LENGTH files n)
if(found)
    list(JOIN found "\n  " text)
    message(FATAL_ERROR "GUI includes in ${SCAN_DIR} (it must use QtCore only):\n  ${text}\n")
endif()
message(STATUS "${n} files under ${SCAN_DIR}: no QtGui/QtWidgets/QtCharts includes")
