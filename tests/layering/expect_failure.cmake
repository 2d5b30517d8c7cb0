# Runs a command that must fail, and checks why:
#   cmake -DEXPECT=<regex> -P expect_failure.cmake -- <command> [args...]
# Passes when the command exits non-zero and its output (stdout and stderr) matches EXPECT.
# A check that stops catching its planted violation, or fails for another reason, fails here.
set(command)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT DEFINED EXPECT OR NOT command)
  message(FATAL_ERROR "usage: cmake -DEXPECT=<regex> -P expect_failure.cmake -- <command>...")
endif()
execute_process(COMMAND ${command} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE result)
# Message text wraps and indents; match on one line.
string(REGEX REPLACE "[\n ]+" " " output "${out}${err}")
if(result EQUAL 0)
  message(FATAL_ERROR "expected a failure, but the command succeeded:\n${out}${err}")
endif()
if(NOT output MATCHES "${EXPECT}")
  message(FATAL_ERROR "the command failed (${result}) but not with /${EXPECT}/:\n${out}${err}")
endif()
message(STATUS "failed as expected: ${EXPECT}")
