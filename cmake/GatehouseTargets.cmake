# Helpers that keep every directory's CMakeLists short and uniform.

# gatehouse_test(NAME SOURCES... LIBS ...): one GoogleTest binary registered with ctest.
function(gatehouse_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main gatehouse_warnings)
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

# gatehouse_fuzzer(NAME SOURCE LIBS ... CORPUS dir): a libFuzzer target; ctest replays its seeds.
function(gatehouse_fuzzer name)
  cmake_parse_arguments(F "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  if(NOT GATEHOUSE_FUZZ)
    return()
  endif()
  add_executable(${name} ${F_SOURCE})
  target_link_libraries(${name} PRIVATE ${F_LIBS} gatehouse_warnings)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  # Replaying the seed corpus (no mutation) is the regression test; long runs are manual.
  add_test(NAME ${name}_seeds COMMAND ${name} -runs=0 ${F_CORPUS})
  set_tests_properties(${name}_seeds PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
