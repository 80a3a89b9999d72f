// JoinedReadBuffer: the two ranges read back as one byte string through
// cpprestsdk's own stream API, in any chunk size, across the seam, after
// seeks (a resend rewinds the body), and never past either end; writes fail.
#include "operator/fleet/joined_read_buffer.h"

#include <cpprest/containerstream.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::fleet {
namespace {

using Buffer = concurrency::streams::streambuf<uint8_t>;
using Traits = concurrency::streams::char_traits<uint8_t>;

Buffer Joined(std::string_view a, std::string_view b) {
  return Buffer(std::make_shared<JoinedReadBuffer>(a, b));
}

// Everything from the read position on, `chunk` bytes per getn.
std::string Drain(Buffer& buffer, size_t chunk) {
  std::string out;
  std::vector<uint8_t> block(chunk);
  while (size_t n = buffer.getn(block.data(), chunk).get()) {
    out.append(reinterpret_cast<const char*>(block.data()), n);
  }
  return out;
}

struct Case {
  const char* name;
  std::string first;
  std::string second;
};

std::vector<Case> Cases() {
  std::string big(200 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  return {
      {"header and content", "{\"sha256\":\"ab\",\"version\":7}\n", "{\"policies\":[]}"},
      {"empty first", "", "only the second"},
      {"empty second", "only the first", ""},
      {"both empty", "", ""},
      {"binary bytes, NUL and 0xff", std::string("\0\xff\x01", 3), std::string("\xfe\0", 2)},
      {"large second", "head\n", big},
  };
}

TEST(JoinedReadBufferTest, ReadsBothRangesInOrderInAnyChunkSize) {
  for (const Case& c : Cases()) {
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{4096}, size_t{64 * 1024}}) {
      SCOPED_TRACE(std::string(c.name) + ", chunk " + std::to_string(chunk));
      Buffer buffer = Joined(c.first, c.second);
      EXPECT_EQ(buffer.size(), c.first.size() + c.second.size());
      EXPECT_EQ(buffer.in_avail(), c.first.size() + c.second.size());
      EXPECT_EQ(Drain(buffer, chunk), c.first + c.second);
      EXPECT_EQ(buffer.in_avail(), 0u);
    }
  }
}

TEST(JoinedReadBufferTest, ReadToEndThroughAnIstream) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    concurrency::streams::istream body = JoinedBody(c.first, c.second);
    concurrency::streams::container_buffer<std::string> sink;
    body.read_to_end(sink).get();
    EXPECT_EQ(sink.collection(), c.first + c.second);
  }
}

TEST(JoinedReadBufferTest, SeeksAndRereadsAsForAResend) {
  const std::string a = "abc", b = "defgh";
  Buffer buffer = Joined(a, b);
  EXPECT_EQ(Drain(buffer, 2), a + b);
  EXPECT_EQ(static_cast<int64_t>(buffer.seekpos(0, std::ios_base::in)), 0);
  EXPECT_EQ(Drain(buffer, 5), a + b);  // the whole body again
  // Into the middle of each range, and relative seeks.
  EXPECT_EQ(static_cast<int64_t>(buffer.seekpos(2, std::ios_base::in)), 2);
  EXPECT_EQ(Drain(buffer, 100), "cdefgh");
  EXPECT_EQ(static_cast<int64_t>(buffer.seekoff(-2, std::ios_base::end, std::ios_base::in)), 6);
  EXPECT_EQ(Drain(buffer, 1), "gh");
  EXPECT_EQ(static_cast<int64_t>(buffer.seekoff(1, std::ios_base::beg, std::ios_base::in)), 1);
  EXPECT_EQ(static_cast<int64_t>(buffer.seekoff(3, std::ios_base::cur, std::ios_base::in)), 4);
  EXPECT_EQ(static_cast<int64_t>(buffer.getpos(std::ios_base::in)), 4);
  EXPECT_EQ(Drain(buffer, 100), "efgh");
}

TEST(JoinedReadBufferTest, NeverOutsideTheRanges) {
  const std::string a = "ab", b = "cd";
  Buffer buffer = Joined(a, b);
  const auto eof = static_cast<int64_t>(Traits::eof());
  const struct {
    const char* name;
    int64_t got;
  } refused[] = {
      {"before the start", static_cast<int64_t>(buffer.seekpos(-1, std::ios_base::in))},
      {"past the end", static_cast<int64_t>(buffer.seekpos(5, std::ios_base::in))},
      {"relative, past the end",
       static_cast<int64_t>(buffer.seekoff(1, std::ios_base::end, std::ios_base::in))},
      {"write head", static_cast<int64_t>(buffer.seekpos(0, std::ios_base::out))},
  };
  for (const auto& r : refused) EXPECT_EQ(r.got, eof) << r.name;
  EXPECT_EQ(static_cast<int64_t>(buffer.getpos(std::ios_base::in)), 0);      // unmoved
  EXPECT_EQ(static_cast<int64_t>(buffer.seekpos(4, std::ios_base::in)), 4);  // the end itself
  uint8_t byte = 0;
  EXPECT_EQ(buffer.getn(&byte, 1).get(), 0u);
  EXPECT_EQ(buffer.sgetc(), Traits::eof());
}

TEST(JoinedReadBufferTest, SingleBytesAcrossTheSeam) {
  const std::string a = "ab", b = "cd";
  Buffer buffer = Joined(a, b);
  EXPECT_EQ(buffer.bumpc().get(), 'a');
  EXPECT_EQ(buffer.sbumpc(), 'b');
  EXPECT_EQ(buffer.getc().get(), 'c');  // peek: the first byte of the second range
  EXPECT_EQ(buffer.sgetc(), 'c');
  EXPECT_EQ(buffer.ungetc().get(), 'b');  // back over the seam
  EXPECT_EQ(buffer.nextc().get(), 'c');
  EXPECT_EQ(buffer.nextc().get(), 'd');
  EXPECT_EQ(buffer.nextc().get(), Traits::eof());
  uint8_t copy[4] = {};
  buffer.seekpos(1, std::ios_base::in);
  EXPECT_EQ(buffer.scopy(copy, 4), 3u);  // copies without moving
  EXPECT_EQ(std::string(reinterpret_cast<char*>(copy), 3), "bcd");
  EXPECT_EQ(static_cast<int64_t>(buffer.getpos(std::ios_base::in)), 1);
}

TEST(JoinedReadBufferTest, RefusesWritesAndDirectAccess) {
  const std::string a = "ab", b = "cd";
  Buffer buffer = Joined(a, b);
  EXPECT_FALSE(buffer.can_write());
  EXPECT_EQ(buffer.putc('x').get(), Traits::eof());
  uint8_t* ptr = nullptr;
  size_t count = 7;
  EXPECT_FALSE(buffer.acquire(ptr, count));
  EXPECT_EQ(ptr, nullptr);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(Drain(buffer, 8), "abcd");  // the ranges are untouched
  buffer.close(std::ios_base::in).get();
  EXPECT_FALSE(buffer.can_read());
  EXPECT_EQ(buffer.in_avail(), 0u);
}

}  // namespace
}  // namespace gatehouse::fleet
