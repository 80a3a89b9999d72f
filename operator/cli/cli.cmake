# The binary: flags, local mode, cluster mode, admin server and metrics.
add_library(gatehouse_operator_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cluster_mode.cc
  ${CMAKE_CURRENT_LIST_DIR}/local_mode.cc
  ${CMAKE_CURRENT_LIST_DIR}/operator_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/reconcile_shell.cc)
target_link_libraries(gatehouse_operator_cli
  PUBLIC gatehouse_fleet gatehouse_kube gatehouse_reconcile gatehouse_policy_sources gatehouse_gzip
         prometheus-cpp::core spdlog::spdlog
  PRIVATE gatehouse_warnings)

add_executable(gatehouse-operator ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_link_libraries(gatehouse-operator PRIVATE gatehouse_operator_cli gatehouse_warnings)
