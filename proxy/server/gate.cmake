# The gate: everything between "the data path parsed a request head" and
# "forward it or answer it" (route, authenticate, authorize, rate-limit,
# identity headers, assertion, audit, metrics, config store, admin endpoints).
# The request head both sides of the seam hold (request_head.h).
add_library(gatehouse_request_head STATIC ${CMAKE_CURRENT_LIST_DIR}/request_head.cc)
target_include_directories(gatehouse_request_head PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(gatehouse_request_head PUBLIC Boost::boost PRIVATE gatehouse_warnings)

add_library(gatehouse_gate STATIC
  ${CMAKE_CURRENT_LIST_DIR}/admin_endpoints.cc
  ${CMAKE_CURRENT_LIST_DIR}/assertion_signer.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_batch_queue.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/config_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/fleet_snapshot.cc
  ${CMAKE_CURRENT_LIST_DIR}/identity_headers.cc
  ${CMAKE_CURRENT_LIST_DIR}/jwks_refresher.cc
  ${CMAKE_CURRENT_LIST_DIR}/key_waiter.cc
  ${CMAKE_CURRENT_LIST_DIR}/login_flow.cc
  ${CMAKE_CURRENT_LIST_DIR}/login_flow_http.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_watcher.cc
  ${CMAKE_CURRENT_LIST_DIR}/proxy_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/rate_limiter.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_gate.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_gate_responses.cc)
target_include_directories(gatehouse_gate PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(gatehouse_gate
  PUBLIC gatehouse_request_head gatehouse_policy gatehouse_auth Boost::boost prometheus-cpp::core spdlog::spdlog
         OpenSSL::Crypto Threads::Threads
  PRIVATE gatehouse_warnings)

set(GATEHOUSE_GATE_TEST_LIBS gatehouse_gate gatehouse_auth_testing)
gatehouse_test(identity_headers_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/identity_headers_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(line_cache_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/line_cache_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(added_fields_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/added_fields_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(assertion_signer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/assertion_signer_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(rate_limiter_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/rate_limiter_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(audit_log_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_log_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(proxy_metrics_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/proxy_metrics_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(config_store_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_store_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(request_gate_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_gate_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(request_gate_parts_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_gate_parts_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(key_waiter_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/key_waiter_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(request_gate_login_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_gate_login_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
gatehouse_test(admin_endpoints_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/admin_endpoints_test.cc
  LIBS ${GATEHOUSE_GATE_TEST_LIBS})
find_program(GATEHOUSE_PROMTOOL promtool)
if(GATEHOUSE_PROMTOOL)
  target_compile_definitions(proxy_metrics_test PRIVATE GATEHOUSE_PROMTOOL="${GATEHOUSE_PROMTOOL}")
endif()
