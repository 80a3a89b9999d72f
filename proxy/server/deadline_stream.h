// DeadlineStream: a TCP socket with a deadline, in place of
// beast::tcp_stream. Reads, writes and connects behave as tcp_stream's: an
// operation in flight when the deadline passes fails with
// beast::error::timeout (the socket is closed), and one started after the
// deadline passed fails the same way at once.
//
//   DeadlineStream tcp(std::move(accepted_socket));   // a TcpSocket (loop_executor.h)
//   tcp.expires_after(std::chrono::seconds(10));   // a store, no timer operation
//   co_await tcp.async_read_some(buffer, kUseTask);
//   tcp.expires_never();                           // e.g. parked in a pool
//
// Why: tcp_stream arms and cancels a timer around every read and write (a
// timer-queue insert, a cancel and a completion each). Here each connection
// has one timer, armed lazily: setting a deadline only stores it; an
// operation arms the timer only when none is armed for that deadline or
// earlier. When the timer fires before the deadline (the deadline moved on),
// it re-arms for the stored one. A busy keep-alive connection thus costs a
// timer operation per timer period, not per read.
//
// One event loop: no member is thread-safe. The state lives on the heap
// (shared with the timer's handler) so the stream can move while a wait is
// outstanding; destroying or closing the stream closes the socket and
// cancels the timer.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "proxy/server/loop_executor.h"

namespace gatehouse::server {

class DeadlineStream {
 public:
  using socket_type = TcpSocket;
  using executor_type = socket_type::executor_type;
  using lowest_layer_type = socket_type;
  using clock = std::chrono::steady_clock;

  explicit DeadlineStream(socket_type socket)
      : state_(std::make_shared<State>(std::move(socket))) {}
  explicit DeadlineStream(const executor_type& executor)
      : state_(std::make_shared<State>(executor)) {}
  // Closes the socket as tcp::socket's destructor does: a read still in
  // flight (or waiting its turn) then fails instead of holding the socket.
  ~DeadlineStream() {
    if (state_) close();
  }
  DeadlineStream(DeadlineStream&&) noexcept = default;
  DeadlineStream& operator=(DeadlineStream&& other) noexcept {
    if (this != &other) {
      if (state_) close();
      state_ = std::move(other.state_);
    }
    return *this;
  }

  executor_type get_executor() { return state_->socket.get_executor(); }
  socket_type& socket() { return state_->socket; }
  socket_type& lowest_layer() { return state_->socket; }

  // Operations started from now on (and those in flight) must finish by
  // now + `timeout`. Only stores the deadline.
  void expires_after(clock::duration timeout) { SetDeadline(clock::now() + timeout); }
  void expires_never() { SetDeadline(clock::time_point::max()); }

  // Closes the socket (operations in flight fail) and stops the timer.
  void close() {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
    CancelTimer(*state_);
  }

  // The next read starts only after the handlers already queued on the
  // loop and its next poll (read_turn.h says when and why). The reads
  // deferred in one turn of the loop start together (ReadTurns below).
  void read_after_turn() { state_->read_after_turn = true; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (!Start<true>(handler)) return;
          if (state_->read_after_turn) {
            state_->read_after_turn = false;
            Defer(b, std::move(handler));
            return;
          }
          state_->socket.async_read_some(b,
                                         Completion<decltype(handler)>{state_, std::move(handler)});
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (!Start<true>(handler)) return;
          state_->socket.async_write_some(
              b, Completion<decltype(handler)>{state_, std::move(handler)});
        },
        token, buffers);
  }

  // Connects to the first endpoint of `endpoints` that accepts, within the deadline.
  template <class EndpointSequence, class Token>
  auto async_connect(const EndpointSequence& endpoints, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, const EndpointSequence& e) {
          if (!Start<false>(handler)) return;
          boost::asio::async_connect(
              state_->socket, e, ConnectCompletion<decltype(handler)>{state_, std::move(handler)});
        },
        token, endpoints);
  }

 private:
  // Room for a deferred read's buffers and handler: a coroutine's read of
  // one buffer takes 56-80 bytes. A larger read (TLS's, Beast's composed
  // reads: 112 bytes and more) is queued on its own.
  static constexpr std::size_t kDeferredBytes = 96;

  class ReadTurns;

  struct State {
    explicit State(socket_type s) : socket(std::move(s)), timer(socket.get_executor()) {}
    explicit State(const executor_type& executor) : socket(executor), timer(executor) {}
    socket_type socket;
    SteadyTimer timer;
    clock::time_point deadline = clock::time_point::max();
    // When the outstanding timer wait fires; max() when none is outstanding.
    clock::time_point armed_for = clock::time_point::max();
    int pending = 0;         // reads, writes and connects in flight
    bool timed_out = false;  // the deadline closed the socket under an operation
    bool expired = false;    // the deadline passed with nothing in flight
    bool read_after_turn = false;
    ReadTurns* turns = nullptr;  // this loop's, found at the first deferred read

    // A read waiting its turn: its buffers and handler, and how to start or
    // drop them. Set only while the loop's ReadTurns holds this state.
    void (*start_deferred)(std::shared_ptr<State>&&, State&) = nullptr;
    void (*drop_deferred)(State&) = nullptr;
    alignas(std::max_align_t) unsigned char deferred[kDeferredBytes];

    ~State() {
      if (drop_deferred) drop_deferred(*this);
    }
  };

  // The reads of one event loop that wait their turn, started together by
  // one handler queued behind the loop's next poll: one queued handler per
  // turn of the loop instead of one per read. The handler goes at the tail
  // of the queue, behind the reactor's marker, so every read that joins the
  // batch before it runs still starts after the next poll. One thread runs
  // each loop, as everywhere in the proxy: no locking.
  class ReadTurns final : public boost::asio::execution_context::service {
   public:
    using key_type = ReadTurns;
    static inline boost::asio::execution_context::id id;
    explicit ReadTurns(boost::asio::execution_context& context) : service(context) {}

    template <class Executor>
    void Add(std::shared_ptr<State> state, const Executor& executor) {
      waiting_.push_back(std::move(state));
      if (waiting_.size() == 1) boost::asio::defer(executor, [this] { StartAll(); });
    }

   private:
    void StartAll() {
      starting_.swap(waiting_);  // reads deferred from here on form the next batch
      for (std::shared_ptr<State>& state : starting_) {
        State& s = *state;
        const auto start = s.start_deferred;
        s.start_deferred = nullptr;
        s.drop_deferred = nullptr;
        start(std::move(state), s);
      }
      starting_.clear();
    }

    // The loop is going away with reads still waiting: their handlers are
    // destroyed, as the loop destroys the handlers left in its queue.
    void shutdown() override {
      waiting_.clear();
      starting_.clear();
    }

    std::vector<std::shared_ptr<State>> waiting_;
    std::vector<std::shared_ptr<State>> starting_;
  };

  template <class Buffers, class Handler>
  struct DeferredRead {
    Buffers buffers;
    Handler handler;
  };

  template <class Buffers, class Handler>
  void Defer(const Buffers& buffers, Handler handler) {
    using Read = DeferredRead<Buffers, Handler>;
    State& s = *state_;
    if constexpr (sizeof(Read) > kDeferredBytes || alignof(Read) > alignof(std::max_align_t)) {
      boost::asio::defer(s.socket.get_executor(),
                         [state = state_, buffers, h = std::move(handler)]() mutable {
                           state->socket.async_read_some(
                               buffers, Completion<Handler>{state, std::move(h)});
                         });
    } else {
      new (s.deferred) Read{buffers, std::move(handler)};
      s.start_deferred = [](std::shared_ptr<State>&& state, State& st) {
        Read* read = std::launder(reinterpret_cast<Read*>(st.deferred));
        const Buffers b = read->buffers;
        Handler h = std::move(read->handler);
        read->~Read();
        st.socket.async_read_some(b, Completion<Handler>{std::move(state), std::move(h)});
      };
      s.drop_deferred = [](State& st) {
        std::launder(reinterpret_cast<Read*>(st.deferred))->~Read();
      };
      if (!s.turns) {
        s.turns = &boost::asio::use_service<ReadTurns>(
            boost::asio::query(s.socket.get_executor(), boost::asio::execution::context));
      }
      s.turns->Add(state_, s.socket.get_executor());
    }
  }

  // Completes the caller's operation, reporting a timeout as tcp_stream does.
  template <class Handler>
  struct Completion {
    using executor_type =
        boost::asio::associated_executor_t<Handler, DeadlineStream::executor_type>;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    executor_type get_executor() const noexcept {
      return boost::asio::get_associated_executor(handler, state->socket.get_executor());
    }
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }
    void operator()(boost::system::error_code ec, std::size_t n) {
      --state->pending;
      if (state->timed_out) ec = boost::beast::error::timeout;
      std::move(handler)(ec, n);
    }
    std::shared_ptr<State> state;
    Handler handler;
  };

  template <class Handler>
  struct ConnectCompletion {
    using executor_type =
        boost::asio::associated_executor_t<Handler, DeadlineStream::executor_type>;
    executor_type get_executor() const noexcept {
      return boost::asio::get_associated_executor(handler, state->socket.get_executor());
    }
    template <class Endpoint>
    void operator()(boost::system::error_code ec, const Endpoint&) {
      --state->pending;
      if (state->timed_out) ec = boost::beast::error::timeout;
      std::move(handler)(ec);
    }
    std::shared_ptr<State> state;
    Handler handler;
  };

  void SetDeadline(clock::time_point deadline) {
    State& s = *state_;
    s.deadline = deadline;
    s.timed_out = false;
    s.expired = false;
    // An operation already in flight is bound by the new deadline too: the
    // timer must not fire later than it.
    if (s.pending > 0 && deadline < s.armed_for) Arm(state_);
  }

  // Before an operation: fails it at once (false) when the deadline already
  // passed, else makes sure the timer fires no later than the deadline.
  // kTransfers: the handler takes (error_code, bytes), else (error_code).
  template <bool kTransfers, class Handler>
  bool Start(Handler& handler) {
    State& s = *state_;
    if (s.expired) {
      // Passed while nothing was in flight: the operation fails as
      // tcp_stream's would, with the socket closed.
      close();
      s.expired = false;
      s.timed_out = true;
      auto executor = boost::asio::get_associated_executor(handler, s.socket.get_executor());
      boost::asio::post(executor, [h = std::move(handler)]() mutable {
        if constexpr (kTransfers) {
          std::move(h)(boost::system::error_code(boost::beast::error::timeout), std::size_t{0});
        } else {
          std::move(h)(boost::system::error_code(boost::beast::error::timeout));
        }
      });
      return false;
    }
    if (s.deadline < s.armed_for) Arm(state_);
    ++s.pending;
    return true;
  }

  static void Arm(const std::shared_ptr<State>& state) {
    State& s = *state;
    s.armed_for = s.deadline;
    s.timer.expires_at(s.deadline);  // cancels an outstanding wait (its handler sees aborted)
    s.timer.async_wait([state](const boost::system::error_code& ec) { OnTimer(state, ec); });
  }

  static void OnTimer(const std::shared_ptr<State>& state, const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // re-armed, closed or destroyed
    State& s = *state;
    s.armed_for = clock::time_point::max();
    if (!s.socket.is_open() || s.deadline == clock::time_point::max()) return;
    if (s.deadline > clock::now()) {
      Arm(state);  // the deadline moved on since the timer was set
      return;
    }
    if (s.pending == 0) {
      s.expired = true;  // the next operation fails
      return;
    }
    s.timed_out = true;
    boost::system::error_code ignored;
    s.socket.close(ignored);  // operations in flight complete, reported as timeouts
  }

  static void CancelTimer(State& s) {
    if (s.armed_for == clock::time_point::max()) return;
    s.armed_for = clock::time_point::max();
    s.timer.cancel();
  }

  std::shared_ptr<State> state_;
};

}  // namespace gatehouse::server
