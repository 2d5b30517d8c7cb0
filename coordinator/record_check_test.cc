#include "coordinator/record_check.h"

#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// Shard 1 of a count-bounded run: ids 10..19, two warm-up requests, engine "e".
v1::Shard CountShard() {
  v1::Shard shard;
  shard.set_shard_index(1);
  shard.mutable_engine()->set_name("e");
  v1::IdRange* range = shard.add_request_ranges();
  range->set_first(10);
  range->set_count(10);
  shard.set_warmup_requests(2);
  return shard;
}

v1::RequestRecord Good(uint64_t id) {
  v1::RequestRecord r;
  r.set_request_id(id);
  r.set_engine("e");
  r.set_sent_ns(1'000'000);
  r.set_first_token_ns(21'000'000);
  r.add_chunk_offsets_ns(20'000'000);
  r.add_chunk_offsets_ns(30'000'000);
  r.set_content_chunks(2);
  r.set_end_ns(31'000'000);
  return r;
}

constexpr int64_t kElapsed = 5'000'000'000;

TEST(RecordCheckTest, AcceptsTheShardsOwnRecords) {
  const v1::Shard shard = CountShard();
  const wire::ShardIds ids(shard);
  EXPECT_EQ(RecordProblem(Good(10), shard, ids, kElapsed), "");
  EXPECT_EQ(RecordProblem(Good(19), shard, ids, kElapsed), "");
  v1::RequestRecord warm = Good(wire::WarmupRequestId(1, 1));
  warm.set_warmup(true);
  EXPECT_EQ(RecordProblem(warm, shard, ids, kElapsed), "");
  // A failure without a first token or chunks.
  v1::RequestRecord failed = Good(12);
  failed.clear_first_token_ns();
  failed.clear_chunk_offsets_ns();
  failed.set_content_chunks(0);
  failed.set_error_class(v1::ERROR_CLASS_TIMEOUT);
  EXPECT_EQ(RecordProblem(failed, shard, ids, kElapsed), "");
}

TEST(RecordCheckTest, NamesWhatCannotBelongToTheShard) {
  const v1::Shard shard = CountShard();
  const wire::ShardIds ids(shard);
  EXPECT_EQ(RecordProblem(Good(20), shard, ids, kElapsed), "request 20 is not one of shard 1's ids");
  v1::RequestRecord other = Good(11);
  other.set_engine("f");
  EXPECT_EQ(RecordProblem(other, shard, ids, kElapsed),
            "request 11: engine \"f\" is not the shard's (\"e\")");
  // A warm-up id of another shard, one past the warm-up count, and one not marked warm-up.
  v1::RequestRecord warm = Good(wire::WarmupRequestId(2, 0));
  warm.set_warmup(true);
  EXPECT_EQ(RecordProblem(warm, shard, ids, kElapsed),
            "request 9223372045444710400 is not a warm-up request of shard 1");
  warm.set_request_id(wire::WarmupRequestId(1, 2));
  EXPECT_NE(RecordProblem(warm, shard, ids, kElapsed), "");
  warm.set_request_id(wire::WarmupRequestId(1, 0));
  warm.set_warmup(false);
  EXPECT_NE(RecordProblem(warm, shard, ids, kElapsed), "");
}

TEST(RecordCheckTest, NamesTimesThatCannotBe) {
  const v1::Shard shard = CountShard();
  const wire::ShardIds ids(shard);
  // The TTFT of -4.6e12 ms a stub worker once got merged.
  v1::RequestRecord r = Good(10);
  r.set_first_token_ns(r.sent_ns() - 4'600'000'000'000'000'000);
  EXPECT_EQ(RecordProblem(r, shard, ids, kElapsed),
            "request 10: first token outside [sent, end] (TTFT -4.6e+12 ms)");
  r = Good(10);
  r.set_end_ns(0);
  EXPECT_EQ(RecordProblem(r, shard, ids, kElapsed), "request 10: ends before it was sent");
  r = Good(10);
  r.set_end_ns(kElapsed + kRecordClockSlackNs + 1);
  EXPECT_EQ(RecordProblem(r, shard, ids, kElapsed).rfind("request 10: a time outside the shard's 5 s", 0),
            0u);
  r = Good(10);
  r.set_chunk_offsets_ns(1, 10'000'000);  // decreasing
  EXPECT_EQ(RecordProblem(r, shard, ids, kElapsed),
            "request 10: chunk offset 10000000 ns is negative, decreasing or after the end");
  r = Good(10);
  r.set_content_chunks(1);
  EXPECT_EQ(RecordProblem(r, shard, ids, kElapsed),
            "request 10: 2 chunk offsets but 1 content chunks");
}

TEST(RecordCheckTest, DurationBoundedIdsFollowTheStride) {
  v1::Shard shard;
  shard.set_shard_index(2);
  shard.mutable_engine()->set_name("e");
  shard.set_first_id(2);
  shard.set_id_stride(3);
  shard.set_duration_seconds(10);
  const wire::ShardIds ids(shard);
  EXPECT_EQ(RecordProblem(Good(2), shard, ids, kElapsed), "");
  EXPECT_EQ(RecordProblem(Good(3002), shard, ids, kElapsed), "");
  EXPECT_EQ(RecordProblem(Good(3), shard, ids, kElapsed),
            "request 3 is not one of shard 2's ids (2 + k * 3)");
  EXPECT_EQ(RecordProblem(Good(1), shard, ids, kElapsed),
            "request 1 is not one of shard 2's ids (2 + k * 3)");
}

}  // namespace
}  // namespace llmbench::coordinator
