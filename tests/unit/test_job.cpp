#include <gtest/gtest.h>

#include "batchcut/net/auth.hpp"
#include "batchcut/util/diagnostic.hpp"
#include "batchcut/job/spec.hpp"

using namespace batchcut;

TEST(Job, KeyIsProjectSlashVideo) {
  JobSpec j;
  j.project_id = "p1";
  j.live_video_id = "lv-9";
  EXPECT_EQ(j.key(), "p1/lv-9");
}

TEST(Job, SameRequestIgnoresLabelButNotRange) {
  JobSpec a;
  a.project_id = "p";
  a.live_video_id = "v";
  a.range = RangeKind::ms;
  a.from_ms = 1;
  a.to_ms = 2;
  JobSpec b = a;
  b.label = "other";
  EXPECT_TRUE(a.same_request(b));
  b.to_ms = 3;
  EXPECT_FALSE(a.same_request(b));
}

TEST(Diagnostic, FormatsFileLineFieldMessage) {
  EXPECT_EQ((Diagnostic{"m.csv", 7, "toMilisecond", "must be greater than fromMilisecond"}.to_string()),
            "m.csv:7: toMilisecond: must be greater than fromMilisecond");
  EXPECT_EQ((Diagnostic{"m.yaml", 0, "", "no jobs"}.to_string()), "m.yaml: no jobs");
}

TEST(Auth, BearerAndRawHeaderValues) {
  EXPECT_EQ(authorization_value(AuthScheme::bearer, "k"), "Bearer k");
  EXPECT_EQ(authorization_value(AuthScheme::raw, "k"), "k");
  EXPECT_EQ(parse_auth_scheme("raw"), AuthScheme::raw);
  EXPECT_FALSE(parse_auth_scheme("basic"));
}
