# The fleet: proxies from EndpointSlices, state machine, mTLS pushes.
add_library(gatehouse_fleet STATIC
  ${CMAKE_CURRENT_LIST_DIR}/fleet_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/joined_read_buffer.cc
  ${CMAKE_CURRENT_LIST_DIR}/fleet_pusher.cc)
target_include_directories(gatehouse_fleet PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(gatehouse_fleet
  PUBLIC gatehouse_reconcile gatehouse_kube cpprestsdk::cpprest OpenSSL::SSL Threads::Threads
  PRIVATE gatehouse_warnings)
target_compile_definitions(gatehouse_fleet PUBLIC _TURN_OFF_PLATFORM_STRING)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # cpprest's stream buffers are created inside libcpprest.so (built without
  # sanitizers) and called through its inline templates here: UBSan's vptr
  # check cannot match their type info across that boundary and reports a
  # false "member call on address ... which does not point to an object".
  # Every other check stays on.
  target_compile_options(gatehouse_fleet PRIVATE -fno-sanitize=vptr)
endif()

gatehouse_test(fleet_tracker_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/fleet_tracker_test.cc
  LIBS gatehouse_fleet)
gatehouse_test(joined_read_buffer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/joined_read_buffer_test.cc
  LIBS gatehouse_fleet)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # The test drains a body into container_buffer<std::string> (char) through
  # read_to_end's streambuf<uint8_t>: cpprest converts between the two by
  # design (same layout), which UBSan's vptr check reports as a type mismatch.
  target_compile_options(joined_read_buffer_test PRIVATE -fno-sanitize=vptr)
endif()
gatehouse_test(fleet_pusher_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/fleet_pusher_test.cc
  LIBS gatehouse_fleet)
# The fake fleet in the test is an Asio coroutine server: co_await as the
# proxy's data path enables it (proxy/server/net.cmake), clang included.
target_compile_definitions(fleet_pusher_test PRIVATE BOOST_ASIO_HAS_CO_AWAIT=1 BOOST_ASIO_HAS_STD_COROUTINE=1)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(fleet_pusher_test PRIVATE -fno-sanitize=function)
endif()
