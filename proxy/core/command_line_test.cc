#include "proxy/core/command_line.h"

#include <gtest/gtest.h>

namespace gatehouse {
namespace {

struct Scenario {
  const char* name;
  std::vector<std::string> in;
  std::vector<std::string> want;
};

TEST(SplitFlagAssignmentsTest, Table) {
  const Scenario scenarios[] = {
      {"space form unchanged",
       {"serve", "--listen", "0.0.0.0:8080"},
       {"serve", "--listen", "0.0.0.0:8080"}},
      {"equals form split",
       {"--bootstrap=/etc/g/config.json"},
       {"--bootstrap", "/etc/g/config.json"}},
      {"split at the first equals only",
       {"--claims={\"a\":\"b=c\"}"},
       {"--claims", "{\"a\":\"b=c\"}"}},
      {"empty value kept", {"--namespace="}, {"--namespace", ""}},
      {"positional with equals untouched", {"GET", "https://h/p?a=b"}, {"GET", "https://h/p?a=b"}},
      {"single dash untouched", {"-x=1"}, {"-x=1"}},
      {"no name untouched", {"--=v"}, {"--=v"}},
      {"after a bare -- untouched", {"--a=1", "--", "--b=2"}, {"--a", "1", "--", "--b=2"}},
  };
  for (const Scenario& s : scenarios) {
    EXPECT_EQ(SplitFlagAssignments(s.in), s.want) << s.name;
  }
}

}  // namespace
}  // namespace gatehouse
