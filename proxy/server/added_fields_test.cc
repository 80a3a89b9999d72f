// AddedFields (added_fields.h): the checks on every name and value the gate
// adds, AddAll() appending all lines or none, and buffers that never show
// another object's lines.
#include "proxy/server/added_fields.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace gatehouse::server {
namespace {

struct Sent {
  std::string name;
  std::string value;
};

// The value added under `name`, "" when none.
std::string Added(const AddedFields& added, std::string_view name) {
  return std::string(added.Find(name).value_or(""));
}

TEST(AddedFieldsTest, AddKnownChecksTheValueAndRefusesASecondValue) {
  AddedFields added;
  EXPECT_TRUE(added.AddKnown("X-Request-Id", "abc"));
  EXPECT_FALSE(added.AddKnown("X-Request-Id", "def"));
  EXPECT_FALSE(added.Add("x-request-id", "def")) << "any casing is the same name";
  EXPECT_FALSE(added.AddKnown("X-Forwarded-Host", "a\r\nX-Admin: 1"));
  EXPECT_FALSE(added.AddKnown("X-Forwarded-Host", std::string("a\0b", 3)));
  EXPECT_EQ(added.text(), "X-Request-Id: abc\r\n");
}

TEST(AddedFieldsTest, AnUnsafeByteAtAnyOffsetOfAnyLengthIsRefused) {
  // Values are checked sixteen or eight bytes per step with an overlapping
  // last step: every byte value at every offset of values of 1..48 bytes.
  for (std::size_t size = 1; size <= 48; ++size) {
    for (std::size_t at = 0; at < size; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string value(size, 'v');
        value[at] = static_cast<char>(byte);
        const bool safe = byte >= 0x20 && byte <= 0x7e;
        ASSERT_EQ(AddedFields::IsSafeValue(value), safe) << size << " " << at << " " << byte;
        AddedFields added;
        ASSERT_EQ(added.AddKnown("X-Request-Id", value), safe) << size << " " << at << " " << byte;
        ASSERT_EQ(added.empty(), !safe);
      }
    }
  }
}

TEST(AddedFieldsTest, AddAllAppendsEveryLineOrNone) {
  AddedFields lines;
  ASSERT_TRUE(lines.Add("X-Forwarded-User", "alice"));
  ASSERT_TRUE(lines.Add("X-Forwarded-Email", "a@example.com"));
  struct Row {
    std::string scenario;
    std::vector<Sent> before;
    bool appended;
    std::string text;  // expected afterwards
  };
  const std::vector<Row> rows = {
      {"into nothing", {}, true, "X-Forwarded-User: alice\r\nX-Forwarded-Email: a@example.com\r\n"},
      {"after other names",
       {{"X-Request-Id", "r"}},
       true,
       "X-Request-Id: r\r\nX-Forwarded-User: alice\r\nX-Forwarded-Email: a@example.com\r\n"},
      {"a name already there, other casing",
       {{"x-forwarded-email", "e"}},
       false,
       "x-forwarded-email: e\r\n"},
      {"a name of the same length",
       {{"X-Forwarded-Host", "h"}},
       true,
       "X-Forwarded-Host: h\r\nX-Forwarded-User: alice\r\nX-Forwarded-Email: a@example.com\r\n"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.scenario);
    AddedFields added;
    for (const Sent& s : row.before) ASSERT_TRUE(added.Add(s.name, s.value));
    EXPECT_EQ(added.AddAll(lines), row.appended);
    EXPECT_EQ(added.text(), row.text);
    // Found by name afterwards, so later Add()s still see every name.
    if (row.appended) {
      EXPECT_EQ(Added(added, "x-forwarded-user"), "alice");
      EXPECT_FALSE(added.Add("X-Forwarded-User", "mallory"));
    }
  }
  // Limits hold for the sum.
  AddedFields full;
  for (size_t i = 0; i + 1 < AddedFields::kMaxFields; ++i) {
    ASSERT_TRUE(full.Add("X-F" + std::to_string(i), "v"));
  }
  const std::string before(full.text());
  EXPECT_FALSE(full.AddAll(lines));
  EXPECT_EQ(full.text(), before);
}

TEST(AddedFieldsTest, CopiesMovesAndReusedBuffersHoldOnlyTheirOwnLines) {
  AddedFields a;
  ASSERT_TRUE(a.Add("X-Forwarded-User", "alice"));
  AddedFields copy = a;
  EXPECT_EQ(copy.text(), a.text());
  AddedFields moved = std::move(a);
  EXPECT_EQ(moved.text(), "X-Forwarded-User: alice\r\n");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): a moved-from value is empty
  EXPECT_FALSE(a.Find("X-Forwarded-User"));
  {
    AddedFields secret;
    ASSERT_TRUE(secret.Add("X-Gatehouse-Assertion", std::string(900, 's')));
  }  // its buffer becomes this thread's spare
  AddedFields next;
  EXPECT_EQ(next.text(), "");
  ASSERT_TRUE(next.Add("X-Request-Id", "r2"));
  EXPECT_EQ(next.text(), "X-Request-Id: r2\r\n") << "nothing of the earlier lines shows";
  EXPECT_FALSE(next.Find("X-Gatehouse-Assertion"));
  // Growing past the first buffer keeps every line.
  AddedFields big;
  ASSERT_TRUE(big.Add("X-A", std::string(1000, 'a')));
  ASSERT_TRUE(big.Add("X-B", std::string(3000, 'b')));
  EXPECT_EQ(Added(big, "x-a"), std::string(1000, 'a'));
  EXPECT_EQ(Added(big, "x-b"), std::string(3000, 'b'));
}

// A per-thread cache (the identity and forwarding line caches) holds an
// AddedFields in a thread_local that may die after the thread's spare
// buffer was reaped. Its buffer must then be freed, not kept as a spare
// nobody frees any more (a leak LeakSanitizer found in CI).
TEST(AddedFieldsTest, ABufferReleasedAfterTheSpareWasReapedIsNotKept) {
  namespace internal = added_fields_internal;
  bool kept_while_alive = false;
  bool kept_after_reaping = true;
  std::thread([&] {
    {
      AddedFields first;
      ASSERT_TRUE(first.Add("X-A", "1"));
    }
    kept_while_alive = internal::spare_field_buffer.data != nullptr;
    // What the reaper does when the thread ends.
    delete[] std::exchange(internal::spare_field_buffer.data, nullptr);
    internal::spare_field_buffer.reaped = true;
    {
      AddedFields late;
      ASSERT_TRUE(late.Add("X-B", "2"));
    }
    kept_after_reaping = internal::spare_field_buffer.data != nullptr;
  }).join();
  EXPECT_TRUE(kept_while_alive);
  EXPECT_FALSE(kept_after_reaping);
}

}  // namespace
}  // namespace gatehouse::server
