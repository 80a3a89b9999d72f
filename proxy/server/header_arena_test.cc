// HeaderArena / HeaderAllocator: bump allocation from one pooled block per
// connection, the block back to the pool when the last allocation is freed,
// the heap past the block, std::allocator behaviour without an arena, and
// heads parsed into an arena that stay intact while the parser lives.
#include "proxy/server/header_arena.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "proxy/server/gate.h"

namespace gatehouse::server {
namespace {

constexpr std::size_t kBlock = 1024;

bool Aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

TEST(HeaderArenaTest, NoBlockUntilFirstAllocationAndBackWhenLastIsFreed) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  EXPECT_FALSE(arena.holds_block());
  void* a = arena.Allocate(100, 8);
  void* b = arena.Allocate(50, 1);
  EXPECT_TRUE(arena.holds_block());
  EXPECT_EQ(arena.live_allocations(), 2u);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 100);  // bumped, not searched
  arena.Deallocate(a, 8);
  EXPECT_TRUE(arena.holds_block()) << "one allocation still lives in the block";
  arena.Deallocate(b, 1);
  EXPECT_FALSE(arena.holds_block()) << "an idle connection keeps no block";
  EXPECT_EQ(arena.used_bytes(), 0u);
  EXPECT_EQ(pool.spare_blocks(), 1u);
}

TEST(HeaderArenaTest, ResetReusesTheSameBlockFromTheStart) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  void* first = arena.Allocate(64, 8);
  arena.Deallocate(first, 8);
  void* again = arena.Allocate(64, 8);
  EXPECT_EQ(again, first) << "the pooled block is taken again, from its start";
  EXPECT_EQ(pool.spare_blocks(), 0u);
  arena.Deallocate(again, 8);
}

TEST(HeaderArenaTest, AlignsEveryAllocation) {
  struct Case {
    std::string name;
    std::size_t bytes;
    std::size_t alignment;
  };
  const std::vector<Case> cases = {
      {"char after odd size", 3, 1}, {"pointer-aligned after odd size", 24, 8},
      {"16-byte aligned", 32, 16},   {"odd size again", 5, 1},
      {"8 after odd", 8, 8},
  };
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  std::vector<std::pair<void*, std::size_t>> live;
  for (const Case& c : cases) {
    void* p = arena.Allocate(c.bytes, c.alignment);
    EXPECT_TRUE(Aligned(p, c.alignment)) << c.name;
    live.emplace_back(p, c.alignment);
  }
  EXPECT_EQ(arena.heap_allocations(), 0u);
  for (auto [p, alignment] : live) arena.Deallocate(p, alignment);
  EXPECT_FALSE(arena.holds_block());
}

TEST(HeaderArenaTest, FallsBackToTheHeapPastTheBlockAndStaysBounded) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  std::vector<void*> live;
  // Far more than one block: the arena's own memory never grows past it.
  for (int i = 0; i < 100; ++i) {
    void* p = arena.Allocate(100, 8);
    std::memset(p, 0xab, 100);  // every byte writable (ASan checks the heap ones)
    live.push_back(p);
    EXPECT_LE(arena.used_bytes(), kBlock) << i;
  }
  EXPECT_EQ(arena.live_allocations(), (kBlock - 100) / 104 + 1);  // 104 apart (8-aligned)
  EXPECT_EQ(arena.heap_allocations(), 100 - arena.live_allocations());
  for (void* p : live) arena.Deallocate(p, 8);
  EXPECT_FALSE(arena.holds_block());
  EXPECT_EQ(arena.live_allocations(), 0u);
}

TEST(HeaderArenaTest, AnOversizedFirstAllocationLeavesNoBlockBehind) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  void* big = arena.Allocate(4 * kBlock, 8);
  EXPECT_FALSE(arena.holds_block()) << "nothing lives in the block: it is not kept";
  EXPECT_EQ(arena.heap_allocations(), 1u);
  arena.Deallocate(big, 8);
  EXPECT_FALSE(arena.holds_block());
}

TEST(HeaderArenaTest, OverAlignedRequestsGoToTheHeap) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  void* p = arena.Allocate(64, 64);
  EXPECT_TRUE(Aligned(p, 64));
  EXPECT_EQ(arena.heap_allocations(), 1u);
  arena.Deallocate(p, 64);
}

TEST(HeaderBlockPoolTest, KeepsAtMostItsSpareLimit) {
  HeaderBlockPool pool(kBlock, 2);
  std::vector<std::unique_ptr<std::byte[]>> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(pool.Take());
  for (auto& block : blocks) pool.Give(std::move(block));
  EXPECT_EQ(pool.spare_blocks(), 2u);
}

TEST(HeaderAllocatorTest, WithoutAnArenaBehavesLikeStdAllocator) {
  HeaderAllocator<int> plain;
  EXPECT_EQ(plain.arena(), nullptr);
  int* p = plain.allocate(1000);
  for (int i = 0; i < 1000; ++i) p[i] = i;
  EXPECT_EQ(p[999], 999);
  plain.deallocate(p, 1000);
  EXPECT_TRUE(plain == HeaderAllocator<char>());
}

TEST(HeaderAllocatorTest, EqualityAndRebindFollowTheArena) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena a(pool);
  HeaderArena b(pool);
  const HeaderAllocator<char> on_a(&a);
  const HeaderAllocator<long> rebound(on_a);
  EXPECT_EQ(rebound.arena(), &a);
  EXPECT_TRUE(on_a == rebound);
  EXPECT_TRUE(on_a != HeaderAllocator<char>(&b));
  EXPECT_TRUE(on_a != HeaderAllocator<char>());
  EXPECT_EQ(on_a.select_on_container_copy_construction().arena(), nullptr);
}

TEST(HeaderAllocatorTest, DefaultHeadsWorkLikeBeastsOwn) {
  RequestHead head;  // as tests, the login flow and the admin port build them
  head.method(http::verb::get);
  head.target("/x");
  head.set(http::field::host, "a.example");
  head.insert("X-Custom", "1");
  head.erase("X-Custom");
  EXPECT_EQ(head[http::field::host], "a.example");
  EXPECT_EQ(head.get_allocator().arena(), nullptr);
}

using ArenaParser = http::request_parser<http::empty_body, HeaderAllocator<char>>;
using BeastHead = http::request_header<HeadFields>;

// Parsers cannot move: filled in place.
void ParseInto(std::optional<ArenaParser>& parser, HeaderArena& arena, const std::string& bytes) {
  parser.emplace(std::piecewise_construct, std::make_tuple(),
                 std::make_tuple(HeaderAllocator<char>(&arena)));
  boost::system::error_code ec;
  parser->put(boost::asio::buffer(bytes), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser->is_header_done());
}

TEST(HeaderAllocatorTest, ParsedHeadLivesInTheArenaAndCopiesDoNot) {
  HeaderBlockPool pool;
  HeaderArena arena(pool);
  const std::string request =
      "GET /api/x?q=1 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: t\r\nAccept: */*\r\n"
      "Authorization: Bearer abc.def.ghi\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n";
  std::optional<BeastHead> copy;
  {
    std::optional<ArenaParser> parser;
    ParseInto(parser, arena, request);
    EXPECT_TRUE(arena.holds_block());
    EXPECT_EQ(arena.heap_allocations(), 0u) << "an ordinary head fits the block";
    EXPECT_GE(arena.live_allocations(), 6u);  // five fields and the target
    BeastHead& head = parser->get();
    // What the data path and the gate do to a head: replace, erase, add.
    head.target("/upstream/api/x?q=1");
    head.set(http::field::host, "metabase.svc:3000");
    head.erase(http::field::authorization);
    head.insert("X-Gatehouse-Test", "yes");
    copy.emplace(head);
    EXPECT_EQ(copy->get_allocator().arena(), nullptr) << "a copy never shares the arena";
    EXPECT_EQ(head[http::field::host], "metabase.svc:3000");
    EXPECT_EQ(head.target(), "/upstream/api/x?q=1");
    EXPECT_EQ(head["X-Gatehouse-Test"], "yes");
    EXPECT_EQ(head["X-Forwarded-For"], "10.0.0.1");
    EXPECT_EQ(head.count(http::field::authorization), 0u);
  }
  EXPECT_FALSE(arena.holds_block()) << "the parser is gone: the block is back";
  EXPECT_EQ(pool.spare_blocks(), 1u);
  // The copy outlives the parser and the block's reuse.
  std::optional<ArenaParser> next;
  ParseInto(next, arena, "GET / HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ((*copy)[http::field::host], "metabase.svc:3000");
  EXPECT_EQ(copy->target(), "/upstream/api/x?q=1");
  EXPECT_EQ(next->get()[http::field::host], "other");
}

TEST(HeaderAllocatorTest, HugeHeadSpillsToTheHeapIntact) {
  HeaderBlockPool pool(kBlock, 4);
  HeaderArena arena(pool);
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 40; ++i) {
    request += "X-F" + std::to_string(i) + ": " + std::string(60, 'a' + i % 26) + "\r\n";
  }
  request += "\r\n";
  {
    std::optional<ArenaParser> parser;
    ParseInto(parser, arena, request);
    EXPECT_GT(arena.heap_allocations(), 0u);
    EXPECT_LE(arena.used_bytes(), kBlock);
    for (int i = 0; i < 40; ++i) {
      EXPECT_EQ(parser->get()["X-F" + std::to_string(i)], std::string(60, 'a' + i % 26)) << i;
    }
  }
  EXPECT_FALSE(arena.holds_block());
}

}  // namespace
}  // namespace gatehouse::server
