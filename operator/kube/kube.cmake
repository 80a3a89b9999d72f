# The Kubernetes side: config, cpprest client, informers, typed writes.
add_library(gatehouse_kube STATIC
  ${CMAKE_CURRENT_LIST_DIR}/kube_config.cc
  ${CMAKE_CURRENT_LIST_DIR}/kube_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/trust_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/informer.cc
  ${CMAKE_CURRENT_LIST_DIR}/kube_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/leader_elector.cc)
target_include_directories(gatehouse_kube PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(gatehouse_kube
  PUBLIC gatehouse_core gatehouse_policy cpprestsdk::cpprest OpenSSL::SSL yaml-cpp
         nlohmann_json::nlohmann_json Threads::Threads
  PRIVATE gatehouse_warnings)
# cpprest's `U` macro breaks GoogleTest and others.
target_compile_definitions(gatehouse_kube PUBLIC _TURN_OFF_PLATFORM_STRING)

gatehouse_test(informer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/informer_test.cc
  LIBS gatehouse_kube)
gatehouse_test(leader_elector_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/leader_elector_test.cc
  LIBS gatehouse_kube)
gatehouse_test(trust_store_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/trust_store_test.cc
  LIBS gatehouse_kube)
gatehouse_test(status_writer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/status_writer_test.cc
  LIBS gatehouse_kube)
