# Shared build settings for every llmbench target.

# Warnings live in one INTERFACE target; -Werror only when LLMBENCH_WERROR is on (CI).
add_library(llmbench_warnings INTERFACE)
target_compile_options(llmbench_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-unused-parameter)
if(LLMBENCH_WERROR)
  target_compile_options(llmbench_warnings INTERFACE -Werror)
endif()

# Sanitizers apply to everything we compile and link.
if(LLMBENCH_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(LLMBENCH_SANITIZE STREQUAL "thread")
  # GCC 12 warns (-Wtsan) on the atomic_thread_fence inside Asio; not actionable from here.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(NOT LLMBENCH_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LLMBENCH_SANITIZE must be '', 'address' or 'thread', not '${LLMBENCH_SANITIZE}'")
endif()

# llmbench_add_test(NAME SOURCES a.cc b.cc LIBS lib1 lib2 [LABELS l1 l2] [SERIAL])
# One GoogleTest binary; each TEST becomes its own ctest entry (discovered at test time).
# SERIAL: its tests run alone (ctest RUN_SERIAL), for tests that take a whole core on purpose.
function(llmbench_add_test name)
  cmake_parse_arguments(T "SERIAL" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main
                        llmbench_warnings)
  target_compile_definitions(${name} PRIVATE
    LLMBENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    LLMBENCH_BINARY_DIR="${PROJECT_BINARY_DIR}"
    LLMBENCH_SHARED_DIR="${LLMBENCH_SHARED_DIR}")
  set(labels ${T_LABELS})
  if(NOT labels)
    set(labels unit)
  endif()
  # gtest_discover_tests flattens its PROPERTIES list (CMake 3.25), so a second label would be
  # read as a property name and swallow the rest: the first label goes through PROPERTIES, the
  # others through the directory's LABELS property, which ctest adds to every test in it.
  list(POP_FRONT labels first_label)
  if(labels)
    set_property(DIRECTORY APPEND PROPERTY LABELS ${labels})
  endif()
  set(serial)
  if(T_SERIAL)
    set(serial RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT 300 LABELS "${first_label}" ${serial})
endfunction()

# The engine transcripts live beside the checkout (../shared/engines); CI lays them the same way.
if(NOT DEFINED LLMBENCH_SHARED_DIR)
  get_filename_component(LLMBENCH_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared" ABSOLUTE)
endif()
set(LLMBENCH_SHARED_DIR "${LLMBENCH_SHARED_DIR}" CACHE PATH "Folder holding engines/ transcripts")
