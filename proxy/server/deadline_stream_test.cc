// DeadlineStream: the deadline cuts off an operation in flight (as
// beast::tcp_stream does: beast::error::timeout, socket closed), fails the
// next operation when it passed while none was in flight, follows a deadline
// moved later or earlier, and leaves operations alone without one. Real
// sockets on loopback; deadlines are tens of milliseconds with wide margins.
#include "proxy/server/deadline_stream.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;

// A connected pair on loopback: `stream` under test, `peer` the other end.
struct Pair {
  asio::io_context io;
  std::optional<DeadlineStream> stream;
  std::optional<tcp::socket> peer;

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    TcpSocket client(io);  // DeadlineStream::socket_type
    client.connect(acceptor.local_endpoint());
    peer.emplace(acceptor.accept());
    stream.emplace(std::move(client));
  }

  // Sends `text` from the peer after `delay`.
  void SendLater(milliseconds delay, std::string text) {
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    auto data = std::make_shared<std::string>(std::move(text));
    timer->async_wait([this, timer, data](const error_code&) {
      error_code ignored;
      asio::write(*peer, asio::buffer(*data), ignored);
    });
  }

  // Runs `steps` (each may re-set the deadline) after the given delays.
  void At(milliseconds delay, std::function<void()> step) {
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    timer->async_wait([timer, step = std::move(step)](const error_code&) { step(); });
  }

  struct ReadResult {
    error_code ec;
    std::size_t bytes = 0;
    bool done = false;
  };

  ReadResult Read() {
    ReadResult result;
    char buffer[64];
    stream->async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
      result = {ec, n, true};
    });
    // Until the read completes: the stream's timer may stay armed after it
    // (lazily, for the deadline), so run() would wait for that too.
    while (!result.done && io.run_one() > 0) {
    }
    return result;
  }
};

TEST(DeadlineStreamTest, ReadInFlightFailsWithTimeoutWhenTheDeadlinePasses) {
  Pair p;
  p.stream->expires_after(milliseconds(50));
  const auto started = std::chrono::steady_clock::now();
  const auto result = p.Read();
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.ec, boost::beast::error::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(45));
  EXPECT_FALSE(p.stream->socket().is_open()) << "a timed-out stream is closed, as tcp_stream's";
}

TEST(DeadlineStreamTest, DataBeforeTheDeadlineIsRead) {
  struct Case {
    std::string name;
    milliseconds deadline;
    milliseconds data_at;
  };
  const std::vector<Case> cases = {
      {"data at once", milliseconds(200), milliseconds(0)},
      {"data well before the deadline", milliseconds(400), milliseconds(50)},
  };
  for (const Case& c : cases) {
    Pair p;
    p.stream->expires_after(c.deadline);
    p.SendLater(c.data_at, "hello");
    const auto result = p.Read();
    EXPECT_FALSE(result.ec) << c.name << ": " << result.ec.message();
    EXPECT_EQ(result.bytes, 5u) << c.name;
    // The same stream keeps working for the next request with a new deadline.
    p.stream->expires_after(milliseconds(50));
    EXPECT_EQ(p.Read().ec, boost::beast::error::timeout) << c.name;
  }
}

TEST(DeadlineStreamTest, ADeadlineMovedLaterWhileReadingIsHonoured) {
  Pair p;
  p.stream->expires_after(milliseconds(40));
  p.At(milliseconds(10), [&] { p.stream->expires_after(milliseconds(400)); });
  p.SendLater(milliseconds(120), "late but in time");
  const auto result = p.Read();
  EXPECT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.bytes, 16u);
}

TEST(DeadlineStreamTest, ADeadlineMovedEarlierWhileReadingCutsSooner) {
  Pair p;
  p.stream->expires_after(std::chrono::seconds(30));
  p.At(milliseconds(10), [&] { p.stream->expires_after(milliseconds(40)); });
  const auto started = std::chrono::steady_clock::now();
  const auto result = p.Read();
  EXPECT_EQ(result.ec, boost::beast::error::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(DeadlineStreamTest, ADeadlinePassedWithNothingInFlightFailsTheNextOperation) {
  Pair p;
  p.stream->expires_after(milliseconds(40));
  p.SendLater(milliseconds(0), "x");
  EXPECT_FALSE(p.Read().ec);  // in time; the timer stays armed for the deadline
  // Nothing reads when the deadline passes: the stream is not closed then
  // (a disconnect watch on its socket must not see a close)...
  bool open_after_deadline = false;
  p.At(milliseconds(100), [&] { open_after_deadline = p.stream->socket().is_open(); });
  p.io.run();
  p.io.restart();
  EXPECT_TRUE(open_after_deadline);
  // ...but the next operation fails at once, and closes it.
  EXPECT_EQ(p.Read().ec, boost::beast::error::timeout);
  EXPECT_FALSE(p.stream->socket().is_open());
}

TEST(DeadlineStreamTest, ANewDeadlineAfterAnExpiredOneStartsAfresh) {
  Pair p;
  p.stream->expires_after(milliseconds(20));
  p.At(milliseconds(60), [] {});
  p.io.run();
  p.io.restart();
  p.stream->expires_after(milliseconds(400));
  p.SendLater(milliseconds(10), "ok");
  const auto result = p.Read();
  EXPECT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.bytes, 2u);
}

TEST(DeadlineStreamTest, NoDeadlineNoTimeout) {
  Pair p;
  p.stream->expires_after(milliseconds(20));
  p.stream->expires_never();
  p.SendLater(milliseconds(100), "eventually");
  const auto result = p.Read();
  EXPECT_FALSE(result.ec) << result.ec.message();
}

TEST(DeadlineStreamTest, ConnectToASilentPeerTimesOut) {
  // 192.0.2.1 (TEST-NET-1) is never routed: the SYN goes unanswered, or the
  // connect fails at once on a machine without a default route. Either way
  // it must not hang past the deadline.
  asio::io_context io;
  DeadlineStream stream(io.get_executor());
  stream.expires_after(milliseconds(100));
  std::optional<error_code> result;
  const std::array<tcp::endpoint, 1> endpoint{
      tcp::endpoint(asio::ip::make_address("192.0.2.1"), 9)};
  stream.async_connect(endpoint, [&](error_code ec) { result = ec; });
  const auto started = std::chrono::steady_clock::now();
  io.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(*result) << "connected to TEST-NET-1?";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

// read_after_turn: the read starts behind the handlers already queued, so it
// takes what they let arrive; the next read starts at once again.
TEST(DeadlineStreamTest, AReadAfterTheTurnStartsBehindQueuedHandlers) {
  Pair p;
  p.stream->expires_after(std::chrono::seconds(5));
  const auto write_from_peer = [&p](std::string_view text) {
    asio::write(*p.peer, asio::buffer(text.data(), text.size()));
  };
  const auto wait_readable = [&p] {
    error_code ignored;
    p.stream->socket().wait(tcp::socket::wait_read, ignored);
  };
  write_from_peer("hello");
  wait_readable();
  asio::post(p.io, [&] { write_from_peer("world"); });
  p.stream->read_after_turn();
  auto result = p.Read();
  ASSERT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.bytes, 10u) << "the read started after the queued handler wrote more";

  write_from_peer("hello");
  wait_readable();
  asio::post(p.io, [&] { write_from_peer("world"); });
  result = p.Read();  // no turn this time: the read takes what is there when it starts
  ASSERT_FALSE(result.ec) << result.ec.message();
  EXPECT_EQ(result.bytes, 5u);
  EXPECT_EQ(p.Read().bytes, 5u);  // the rest
}

// The reads that wait their turn in one turn of the loop start together,
// behind the handlers queued before the first of them, each on its own
// stream and with its own handler.
TEST(DeadlineStreamTest, ReadsDeferredInOneTurnAllStartBehindTheQueuedHandlers) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::vector<DeadlineStream> streams;
  std::vector<tcp::socket> peers;
  for (int i = 0; i < 3; ++i) {
    TcpSocket client(io);
    client.connect(acceptor.local_endpoint());
    peers.push_back(acceptor.accept());
    streams.emplace_back(std::move(client));
  }
  std::vector<std::string> received(streams.size());
  std::vector<std::array<char, 32>> buffers(streams.size());
  std::size_t done = 0;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const std::string head = "part" + std::to_string(i);
    asio::write(peers[i], asio::buffer(head));
    error_code ignored;
    streams[i].socket().wait(tcp::socket::wait_read, ignored);
    // Queued before the reads: what it writes must be in each read.
    asio::post(io, [&peers, i] { asio::write(peers[i], asio::buffer(std::string("+more"))); });
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    streams[i].read_after_turn();
    streams[i].async_read_some(asio::buffer(buffers[i]), [&, i](error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      received[i].assign(buffers[i].data(), n);
      ++done;
    });
  }
  while (done < streams.size() && io.run_one() > 0) {
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    EXPECT_EQ(received[i], "part" + std::to_string(i) + "+more") << "stream " << i;
  }
}

// A loop destroyed while a read waits its turn destroys the read's handler
// without calling it, as it does with the handlers left in its queue.
TEST(DeadlineStreamTest, ALoopGoneWithAReadWaitingItsTurnDropsTheHandler) {
  auto witness = std::make_shared<int>(0);
  bool called = false;
  {
    Pair p;
    p.stream->read_after_turn();
    char buffer[8];
    p.stream->async_read_some(asio::buffer(buffer),
                              [witness, &called](error_code, std::size_t) { called = true; });
    EXPECT_EQ(witness.use_count(), 2);
    p.stream.reset();
  }
  EXPECT_FALSE(called);
  EXPECT_EQ(witness.use_count(), 1) << "the waiting read's handler outlived its loop";
}

TEST(DeadlineStreamTest, AReadWaitingItsTurnKeepsTheDeadline) {
  Pair p;
  p.stream->expires_after(milliseconds(50));
  p.stream->read_after_turn();
  const auto result = p.Read();
  EXPECT_EQ(result.ec, boost::beast::error::timeout);
  EXPECT_FALSE(p.stream->socket().is_open());
}

TEST(DeadlineStreamTest, AStreamGoneBeforeItsReadsTurnFailsTheRead) {
  for (const bool destroy : {false, true}) {
    Pair p;
    p.stream->read_after_turn();
    Pair::ReadResult result;
    char buffer[8];
    p.stream->async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
      result = {ec, n, true};
    });
    if (destroy) {
      p.stream.reset();  // the read's start still holds the socket's state
    } else {
      p.stream->close();
    }
    p.io.run();
    ASSERT_TRUE(result.done) << (destroy ? "destroyed" : "closed");
    EXPECT_TRUE(result.ec) << (destroy ? "destroyed" : "closed");
  }
}

TEST(DeadlineStreamTest, DestroyingTheStreamStopsItsTimer) {
  {
    Pair p;
    p.stream->expires_after(std::chrono::hours(1));
    p.SendLater(milliseconds(0), "x");
    EXPECT_FALSE(p.Read().ec);  // armed the timer for an hour
    p.stream.reset();
    const auto started = std::chrono::steady_clock::now();
    p.io.run();  // returns at once: no timer wait outlives the stream
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  }
}

}  // namespace
}  // namespace gatehouse::server
