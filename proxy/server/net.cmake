# gatehouse_net: the proxy's data path (listener, HTTP/1.1 framing, upstream
# pool, streaming, WebSocket tunnel) and the admin port's HTTP server.
# Beast/Asio templates live in few translation units to keep builds short.
add_library(gatehouse_net STATIC
  ${CMAKE_CURRENT_LIST_DIR}/admin_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/head_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/http_session.cc
  ${CMAKE_CURRENT_LIST_DIR}/proxy_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_framing.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_head_parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/response_head.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_context.cc
  ${CMAKE_CURRENT_LIST_DIR}/hop_by_hop.cc
  ${CMAKE_CURRENT_LIST_DIR}/client_watch.cc
  ${CMAKE_CURRENT_LIST_DIR}/upstream_exchange.cc
  ${CMAKE_CURRENT_LIST_DIR}/upstream_response.cc
  ${CMAKE_CURRENT_LIST_DIR}/upstream_pool.cc
  ${CMAKE_CURRENT_LIST_DIR}/websocket_tunnel.cc
)
# Boost 1.74 enables co_await only for GCC; clang 14 (Sanitize/fuzz builds)
# supports C++20 coroutines with libstdc++ just as well.
target_compile_definitions(gatehouse_net PUBLIC BOOST_ASIO_HAS_CO_AWAIT=1 BOOST_ASIO_HAS_STD_COROUTINE=1)
target_link_libraries(gatehouse_net
  PUBLIC gatehouse_request_head gatehouse_core gatehouse_policy Boost::system OpenSSL::SSL OpenSSL::Crypto Threads::Threads
  PRIVATE gatehouse_warnings)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # clang 14 miscompiles UBSan's -fsanitize=function checks in C++20 coroutines
  # ("Cannot represent a difference across sections"); every other check stays on.
  target_compile_options(gatehouse_net PRIVATE -fno-sanitize=function)
endif()

gatehouse_test(deadline_stream_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/deadline_stream_test.cc
  LIBS gatehouse_net)
gatehouse_test(header_arena_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/header_arena_test.cc
  LIBS gatehouse_net)
gatehouse_test(head_writer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/head_writer_test.cc
  LIBS gatehouse_net)
gatehouse_test(request_framing_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_framing_test.cc
  LIBS gatehouse_net)
gatehouse_test(request_head_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_head_test.cc
  LIBS gatehouse_net)
gatehouse_test(request_head_parser_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/request_head_parser_test.cc LIBS gatehouse_net)
gatehouse_test(response_head_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/response_head_test.cc LIBS gatehouse_net)
gatehouse_fuzzer(head_fuzzer SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz/head_fuzzer.cc
  LIBS gatehouse_net CORPUS ${CMAKE_CURRENT_LIST_DIR}/fuzz/head_corpus)
gatehouse_test(hop_by_hop_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/hop_by_hop_test.cc
  LIBS gatehouse_net)
foreach(concept forwarding framing failure)
  gatehouse_test(proxy_server_${concept}_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/proxy_server_${concept}_test.cc LIBS gatehouse_net)
endforeach()
gatehouse_test(admin_server_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/admin_server_test.cc
  LIBS gatehouse_net)
