# The layers of llmbench and the rules that keep them apart (docs/architecture.md).
#
#   proto (llmbench_proto, llmbench_wire)   the schema and the wire contracts beside it
#   common                                   clock, stats, framing, JSON, logging, status
#   engines                                  the engines' HTTP APIs: routes, builders, parsers
#   worker, coordinator, sim                 the three programs; none reaches into another
#
# Three checks enforce the rules; each fails the build, not a review:
#   (a) link edges, at configure time: llmbench_check_link_layers() compares the direct
#       llmbench_* links of every layered library with LLMBENCH_LAYER_DEPS_<library> below;
#   (b) includes, as the target `layering_includes` in `all`: cmake/LlmbenchCheckIncludes.cmake
#       fails when a file includes a header of a layer its own layer may not use (a
#       coordinator/ file including worker/ or sim/, ...), or gRPC outside the RPC files;
#   (c) symbols, after `llmbench` links (llmbench_forbid_symbols): cmake/LlmbenchCheckSymbols.cmake fails when `nm -C`
#       finds an llmbench::worker:: or llmbench::sim:: symbol in the coordinator's binary.
# tests/layering/ plants one violation of each kind and asserts the check catches it
# (ctest -R layering_).

# ---- (a) link edges -------------------------------------------------------------------------
# The llmbench_* libraries each layered library may link directly (PUBLIC, PRIVATE or
# INTERFACE). llmbench_warnings (compile flags only) is always allowed. A library not named here
# is not a layer (test harnesses, benchmarks, fuzz targets) and is not checked.
set(LLMBENCH_LAYER_DEPS_llmbench_proto "")
set(LLMBENCH_LAYER_DEPS_llmbench_proto_grpc llmbench_proto)
set(LLMBENCH_LAYER_DEPS_llmbench_wire llmbench_proto)
set(LLMBENCH_LAYER_DEPS_llmbench_common "")
set(LLMBENCH_LAYER_DEPS_llmbench_common_grpc llmbench_common)
set(LLMBENCH_LAYER_DEPS_llmbench_engines llmbench_common llmbench_proto)
set(LLMBENCH_LAYER_DEPS_llmbench_sim llmbench_common)
set(LLMBENCH_LAYER_DEPS_llmbench_worker llmbench_common llmbench_proto llmbench_wire
    llmbench_engines)
set(LLMBENCH_LAYER_DEPS_llmbench_worker_service llmbench_worker llmbench_proto_grpc
    llmbench_common_grpc)
set(LLMBENCH_LAYER_DEPS_llmbench_coordinator llmbench_common llmbench_proto llmbench_wire
    llmbench_engines)
set(LLMBENCH_LAYER_DEPS_llmbench_coordinator_rpc llmbench_coordinator llmbench_proto_grpc
    llmbench_common_grpc)
# The binaries: each links its own side only.
set(LLMBENCH_LAYER_DEPS_llmbench llmbench_coordinator_rpc)
set(LLMBENCH_LAYER_DEPS_llmbench-worker llmbench_worker_service)
set(LLMBENCH_LAYER_DEPS_llmbench-sim llmbench_sim)
set(LLMBENCH_LAYERED_TARGETS
    llmbench_proto llmbench_proto_grpc llmbench_wire llmbench_common llmbench_common_grpc
    llmbench_engines llmbench_sim llmbench_worker llmbench_worker_service llmbench_coordinator
    llmbench_coordinator_rpc llmbench llmbench-worker llmbench-sim)

# The llmbench_* targets `target` links directly, in `out`. Generator expressions are unwrapped
# ($<LINK_ONLY:x> -> x); the ::@(dir) markers CMake adds for links made from another
# directory are dropped.
function(llmbench_direct_llmbench_links target out)
  set(links)
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(values ${target} ${property})
    if(values)
      list(APPEND links ${values})
    endif()
  endforeach()
  set(result)
  foreach(link IN LISTS links)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
    if(link MATCHES "^(llmbench_|llmbench-)" AND NOT link STREQUAL "llmbench_warnings")
      list(APPEND result ${link})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES result)
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# Fails the configure step when a layered target links an llmbench_* library its table entry
# does not allow. Call it once every target exists (the end of the top-level CMakeLists.txt).
function(llmbench_check_link_layers)
  set(violations)
  foreach(target IN LISTS LLMBENCH_LAYERED_TARGETS)
    if(NOT TARGET ${target})
      continue()
    endif()
    llmbench_direct_llmbench_links(${target} links)
    foreach(link IN LISTS links)
      if(NOT link IN_LIST LLMBENCH_LAYER_DEPS_${target})
        list(JOIN LLMBENCH_LAYER_DEPS_${target} ", " allowed)
        list(APPEND violations "${target} may not link ${link} (allowed: ${allowed})")
      endif()
    endforeach()
  endforeach()
  if(violations)
    list(JOIN violations "\n  " text)
    message(FATAL_ERROR "layering: forbidden link edges (cmake/LlmbenchLayers.cmake):\n  ${text}")
  endif()
endfunction()

# ---- (b) includes and (c) symbols -----------------------------------------------------------
set(LLMBENCH_CHECK_INCLUDES_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/LlmbenchCheckIncludes.cmake")
set(LLMBENCH_CHECK_SYMBOLS_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/LlmbenchCheckSymbols.cmake")
# What the coordinator's binary must not contain: the other programs' code.
set(LLMBENCH_COORDINATOR_FORBIDDEN_SYMBOLS "llmbench::worker::|llmbench::sim::")

# Adds the include check to `all`.
function(llmbench_add_layer_checks)
  add_custom_target(layering_includes ALL
    COMMAND "${CMAKE_COMMAND}" "-DROOT=${PROJECT_SOURCE_DIR}" -P "${LLMBENCH_CHECK_INCLUDES_SCRIPT}"
    COMMENT "layering: checking #include edges between layers"
    VERBATIM)
endfunction()

# Makes linking `target` fail when its binary holds a symbol matching `forbidden` (a regex).
# Call it in the folder that creates `target` (a POST_BUILD step must be added there).
function(llmbench_forbid_symbols target forbidden)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}" "-DFILE=$<TARGET_FILE:${target}>" "-DFORBIDDEN=${forbidden}"
            -P "${LLMBENCH_CHECK_SYMBOLS_SCRIPT}"
    COMMENT "layering: checking that ${target} has no symbols matching ${forbidden}"
    VERBATIM)
endfunction()
