# The include check of cmake/LlmbenchLayers.cmake, run as a script:
#   cmake -DROOT=<source tree> -P cmake/LlmbenchCheckIncludes.cmake
# Fails (exit status 1) naming every file under ROOT that includes a header its layer may not
# use. tests/layering/ runs it on a tree with a planted violation.
#
# Rules, by the folder a file is in (tests/, bench/ and fuzz/ are free to include anything):
#   common/       nothing of ours but common/ and the schema (llmbench/v1/*.pb.h)
#   proto/wire/   the schema only
#   engines/      common/ and the schema; not worker/, coordinator/, sim/
#   worker/       not coordinator/ or sim/
#   coordinator/  not worker/ or sim/
#   sim/          not worker/, coordinator/ or engines/: the simulator is the client's yardstick,
#                 so it implements the engines' wire protocols on its own
# and gRPC (grpcpp/, grpc/, *.grpc.pb.h) only in the RPC edges: coordinator/dispatch*,
# worker_client*, cli*, local_workers*; worker/worker_service* and worker/main.cc;
# common/grpc_status.*. The scenario, merge, engine and load code compiles without it.
if(NOT DEFINED ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source tree> -P LlmbenchCheckIncludes.cmake")
endif()

set(forbidden_common "engines/|worker/|coordinator/|sim/|proto/wire/")
set(forbidden_proto/wire "common/|engines/|worker/|coordinator/|sim/")
set(forbidden_engines "worker/|coordinator/|sim/|proto/wire/")
set(forbidden_worker "coordinator/|sim/")
set(forbidden_coordinator "worker/|sim/")
set(forbidden_sim "worker/|coordinator/|engines/")
set(grpc_allowed "^(coordinator/(dispatch|worker_client|cli|local_workers)[^/]*|worker/(worker_service[^/]*|main\\.cc)|common/grpc_status\\.(h|cc))$")
set(grpc_include "^(grpcpp/|grpc/|.*\\.grpc\\.pb\\.h$)")

set(violations)
foreach(layer common proto/wire engines worker coordinator sim)
  file(GLOB files RELATIVE "${ROOT}" "${ROOT}/${layer}/*.h" "${ROOT}/${layer}/*.cc")
  list(SORT files)
  foreach(file IN LISTS files)
    file(STRINGS "${ROOT}/${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^\">]+)[\">].*$" "\\1" header "${line}")
      if(header MATCHES "^(${forbidden_${layer}})")
        list(APPEND violations "${file} includes ${header}: ${layer}/ may not include ${CMAKE_MATCH_1}")
      endif()
      if(header MATCHES "${grpc_include}" AND NOT file MATCHES "${grpc_allowed}")
        list(APPEND violations "${file} includes ${header}: gRPC belongs to the RPC edges only")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layering: forbidden includes (cmake/LlmbenchCheckIncludes.cmake):\n  ${text}")
endif()
