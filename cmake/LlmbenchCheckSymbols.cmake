# The symbol check of cmake/LlmbenchLayers.cmake, run as a script:
#   cmake -DFILE=<binary or archive> -DFORBIDDEN=<regex> -P cmake/LlmbenchCheckSymbols.cmake
# Fails (exit status 1) when `nm -C FILE` lists a symbol matching FORBIDDEN, and names the first
# few. A symbol is there when the binary holds the code, whatever the headers said.
if(NOT DEFINED FILE OR NOT DEFINED FORBIDDEN)
  message(FATAL_ERROR "usage: cmake -DFILE=<binary> -DFORBIDDEN=<regex> -P LlmbenchCheckSymbols.cmake")
endif()
find_program(NM_PROGRAM NAMES nm gcc-nm REQUIRED)
execute_process(COMMAND "${NM_PROGRAM}" -C "${FILE}"
                OUTPUT_VARIABLE symbols ERROR_VARIABLE nm_error RESULT_VARIABLE nm_result)
if(NOT nm_result EQUAL 0)
  message(FATAL_ERROR "layering: nm -C ${FILE} failed (${nm_result}): ${nm_error}")
endif()
string(REPLACE ";" "\\;" symbols "${symbols}")
string(REPLACE "\n" ";" symbols "${symbols}")
set(found)
foreach(symbol IN LISTS symbols)
  if(symbol MATCHES "${FORBIDDEN}")
    list(APPEND found "${symbol}")
  endif()
endforeach()
list(LENGTH found count)
if(count GREATER 0)
  list(SUBLIST found 0 5 first)
  list(JOIN first "\n  " text)
  message(FATAL_ERROR "layering: ${FILE} has ${count} symbols matching '${FORBIDDEN}', e.g.\n  ${text}")
endif()
