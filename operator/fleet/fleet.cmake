# The fleet: proxies from EndpointSlices, state machine, mTLS pushes.
add_library(gatehouse_fleet STATIC
  ${CMAKE_CURRENT_LIST_DIR}/fleet_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/fleet_pusher.cc)
target_include_directories(gatehouse_fleet PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(gatehouse_fleet
  PUBLIC gatehouse_reconcile gatehouse_kube cpprestsdk::cpprest OpenSSL::SSL Threads::Threads
  PRIVATE gatehouse_warnings)
target_compile_definitions(gatehouse_fleet PUBLIC _TURN_OFF_PLATFORM_STRING)

gatehouse_test(fleet_tracker_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/fleet_tracker_test.cc
  LIBS gatehouse_fleet)
gatehouse_test(fleet_pusher_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/fleet_pusher_test.cc
  LIBS gatehouse_fleet)
