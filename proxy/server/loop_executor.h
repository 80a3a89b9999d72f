// The executor of the proxy's event loops, named concretely: coroutines,
// completion tokens, sockets and timers on the data path all use it in place
// of Asio's type-erased default (any_io_executor).
//
//   Task<std::size_t> ReadSome(DeadlineStream& tcp, asio::mutable_buffer b) {
//     error_code ec;
//     co_return co_await tcp.async_read_some(b, asio::redirect_error(kUseTask, ec));
//   }
//   TcpSocket socket = co_await acceptor.async_accept(kUseTask);   // a TcpAcceptor
//   co_spawn(io, Serve(std::move(socket)), detached);              // io: the loop's io_context
//
// Why: asio::awaitable<T> and use_awaitable default to any_io_executor, and
// so does tcp::socket. Every suspension, resumption, completion and spawned
// coroutine then moves, copies, destroys and dispatches through that type
// erasure (any_executor's execute_ex, prefer, move_object, copy_object,
// destroy_object, target_object): about 800 instructions per proxied request
// in a callgrind profile under load, and the coroutine machinery templated on
// it cost more. With the concrete executor a proxied request with an RS256
// JWT takes about 19,400 instructions instead of 22,200, a public one 16,600
// instead of 19,400 (callgrind, 64 connections, one loop, two runs each).
// Each event loop is one io_context run by one thread, so its
// io_context::executor_type is always the real executor.
//
// Everything that co_awaits another coroutine must use the same executor
// type: Task, kUseTask and the aliases below go together.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace gatehouse::server {

using LoopExecutor = boost::asio::io_context::executor_type;

// A coroutine on an event loop.
template <class T = void>
using Task = boost::asio::awaitable<T, LoopExecutor>;

// The completion token that suspends a Task (use_awaitable on LoopExecutor).
inline constexpr boost::asio::use_awaitable_t<LoopExecutor> kUseTask{};

using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, LoopExecutor>;
using TcpAcceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, LoopExecutor>;
using TcpResolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, LoopExecutor>;
using SteadyTimer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, LoopExecutor>;

}  // namespace gatehouse::server
