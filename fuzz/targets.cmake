# llmbench_fuzz_targets: the fuzz entry points (fuzz_targets.h) as a plain library, shared by
# the libFuzzer binaries (fuzz/CMakeLists.txt, -DLLMBENCH_FUZZ=ON) and by fuzz_regression_test
# in the normal build (tests/fuzz_regressions/). Included from both; defined once.
if(NOT TARGET llmbench_fuzz_targets)
  set(fuzz_dir "${PROJECT_SOURCE_DIR}/fuzz")
  add_library(llmbench_fuzz_targets STATIC
    "${fuzz_dir}/sse_framing_fuzz.cc"
    "${fuzz_dir}/ndjson_framing_fuzz.cc"
    "${fuzz_dir}/protocol_fuzz_common.cc"
    "${fuzz_dir}/ollama_protocol_fuzz.cc"
    "${fuzz_dir}/openai_protocol_fuzz.cc"
    "${fuzz_dir}/tgi_protocol_fuzz.cc"
    "${fuzz_dir}/scenario_loader_fuzz.cc"
    "${fuzz_dir}/trace_file_fuzz.cc"
    # The loader and its parts alone (they need nothing else of the coordinator), so that the
    # fuzzers do not pull in the whole coordinator library and its generated report assets.
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_loader.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_yaml.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_source_map.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_fields.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_defaults.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_validate.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/scenario_yaml_out.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/dataset_file.cc"
    "${PROJECT_SOURCE_DIR}/coordinator/trace_file.cc")
  target_link_libraries(llmbench_fuzz_targets PUBLIC llmbench_common llmbench_engines
                        llmbench_proto yaml-cpp absl::flat_hash_map PRIVATE llmbench_warnings)
endif()
