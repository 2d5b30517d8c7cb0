// Failover, reassignment and record checks of the dispatcher, with scripted workers behind the
// WorkerConnection seam (no processes, no network): each test states what the workers do and
// checks what the run made of it.
#include "coordinator/dispatch.h"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "coordinator/requests_csv.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/worker_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/wire/shard_ids.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// What a scripted worker does with every shard it gets.
struct Script {
  int fail_after = -1;            // break the stream after this many records (-1: never)
  absl::Status refuse;            // refuse every shard with this status (ok: run it)
  uint64_t foreign_id = 0;        // when non-zero, also send a record with this id
};

Script FailAfter(int records) {
  Script script;
  script.fail_after = records;
  return script;
}
Script ForeignId(uint64_t id) {
  Script script;
  script.foreign_id = id;
  return script;
}
Script Refuse(absl::Status status) {
  Script script;
  script.refuse = std::move(status);
  return script;
}

// Every shard each scripted worker received, by address.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<v1::Shard>> shards;
};

class ScriptedWorker final : public WorkerConnection {
 public:
  ScriptedWorker(std::string address, Script script, Seen* seen)
      : address_(std::move(address)), script_(std::move(script)), seen_(seen) {}

  const std::string& address() const override { return address_; }

  absl::StatusOr<WorkerInfo> Describe() override {
    WorkerInfo info;
    info.describe.set_worker_id(absl::StrCat("w-", address_));
    info.describe.set_version(kVersion);
    info.describe.set_protocol_version(kProtocolVersion);
    info.describe.set_loop_threads(1);
    info.describe.set_max_concurrency(1000);
    return info;
  }

  absl::Status RunShard(const v1::Shard& shard,
                        const std::function<void(v1::WorkerMessage&)>& on_message) override {
    {
      std::lock_guard<std::mutex> lock(seen_->mu);
      seen_->shards[address_].push_back(shard);
    }
    if (!script_.refuse.ok()) return script_.refuse;
    const wire::ShardIds ids(shard);
    int sent = 0;
    auto send = [&](uint64_t id, int64_t at_ns) {
      v1::WorkerMessage message;
      v1::RequestRecord* r = message.mutable_records()->add_records();
      r->set_request_id(id);
      r->set_shard_index(shard.shard_index());
      r->set_worker_id(absl::StrCat("w-", address_));
      r->set_engine(shard.engine().name());
      r->set_sent_ns(at_ns);
      r->set_first_token_ns(at_ns + 1'000'000);
      r->add_chunk_offsets_ns(1'000'000);
      r->set_content_chunks(1);
      r->set_output_tokens(1);
      r->set_end_ns(at_ns + 2'000'000);
      on_message(message);
    };
    for (uint64_t j = 0; j < ids.size(); ++j) {
      if (script_.fail_after >= 0 && sent == script_.fail_after) {
        return absl::UnavailableError("the stream broke");
      }
      send(ids.IdAt(j), static_cast<int64_t>(j) * 1'000'000);
      ++sent;
    }
    if (script_.foreign_id != 0) send(script_.foreign_id, 0);
    v1::WorkerMessage summary;
    summary.mutable_summary()->set_requests_sent(static_cast<uint64_t>(sent));
    on_message(summary);
    return absl::OkStatus();
  }

  absl::Status StopShard(const std::string&, uint32_t) override { return absl::OkStatus(); }
  void Cancel() override {}

 private:
  const std::string address_;
  const Script script_;
  Seen* const seen_;
};

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/dispatch-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }

  // 40 requests at concurrency 4 on an engine nobody reaches (the workers are scripted).
  static v1::Scenario Scenario() {
    v1::Scenario s;
    v1::Engine* engine = s.add_engines();
    engine->set_name("e");
    engine->set_kind(v1::ENGINE_KIND_VLLM);
    engine->set_base_url("http://127.0.0.1:9");
    engine->set_model("m");
    s.mutable_load()->mutable_concurrency()->set_concurrency(4);
    s.mutable_load()->set_requests(40);
    ApplyScenarioDefaults(&s);
    return s;
  }

  RunOptions Options(std::map<std::string, Script> scripts) {
    RunOptions o;
    for (const auto& [address, script] : scripts) o.workers.push_back(address);
    o.check_engines = false;
    o.quiet = true;
    o.out_dir = dir_;
    o.connect_worker = [this, scripts](const std::string& address, const WorkerClientSecurity&) {
      return std::make_unique<ScriptedWorker>(address, scripts.at(address), &seen_);
    };
    return o;
  }

  std::multiset<uint64_t> CsvIds() {
    std::multiset<uint64_t> ids;
    EXPECT_TRUE(ForEachStoredRequest(dir_, [&](const v1::RequestRecord& r) {
                  ids.insert(r.request_id());
                }).ok());
    return ids;
  }

  std::string dir_;
  Seen seen_;
};

// A worker whose stream breaks after 5 records: every record it sent is kept, its other 15
// requests go to the healthy worker as one range, each id is counted once, and the run is
// DEGRADED (exit 0) with the failure named.
TEST_F(DispatchTest, AFailedWorkersUnfinishedRequestsAreReassignedOnce) {
  absl::StatusOr<RunOutcome> outcome =
      RunScenario(Scenario(), Options({{"127.0.0.1:1", FailAfter(5)},
                                       {"127.0.0.1:2", Script{}}}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const v1::RunResult& result = outcome->result;
  EXPECT_EQ(result.overall().requests(), 40u);
  EXPECT_EQ(result.overall().successes(), 40u);
  EXPECT_EQ(result.overall().requests_not_run(), 0u);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_DEGRADED);
  EXPECT_EQ(outcome->exit_status, 0);
  ASSERT_EQ(result.workers_size(), 2);
  EXPECT_TRUE(result.workers(0).failed());
  EXPECT_EQ(result.workers(0).failure(), "the stream broke");
  EXPECT_EQ(result.workers(0).requests_reassigned(), 15u);
  EXPECT_EQ(result.workers(0).aggregates().requests(), 5u);
  EXPECT_EQ(result.workers(1).aggregates().requests(), 35u);
  // The healthy worker ran its own shard (ids 20..39), then the failed one's rest (5..19).
  const std::vector<v1::Shard>& second = seen_.shards["127.0.0.1:2"];
  ASSERT_EQ(second.size(), 2u);
  ASSERT_EQ(second[1].request_ranges_size(), 1);
  EXPECT_EQ(second[1].request_ranges(0).first(), 5u);
  EXPECT_EQ(second[1].request_ranges(0).count(), 15u);
  EXPECT_EQ(second[1].warmup_requests(), 0u);
  std::multiset<uint64_t> expected;
  for (uint64_t id = 0; id < 40; ++id) expected.insert(id);
  EXPECT_EQ(CsvIds(), expected);
}

// Both workers break: nothing is left to run the rest, which counts against the run.
TEST_F(DispatchTest, RequestsNoWorkerCouldRunCountAsNotRun) {
  absl::StatusOr<RunOutcome> outcome =
      RunScenario(Scenario(), Options({{"127.0.0.1:1", FailAfter(5)},
                                       {"127.0.0.1:2", FailAfter(10)}}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const v1::RunResult& result = outcome->result;
  const uint64_t measured = result.overall().requests();
  EXPECT_LT(measured, 40u);
  EXPECT_EQ(result.overall().requests_not_run(), 40u - measured);
  EXPECT_EQ(outcome->exit_status, 3);
  ASSERT_EQ(result.verdict().thresholds_crossed_size(), 1);
}

// A record for an id the worker was never given is dropped and makes the run INVALID, naming
// the worker.
TEST_F(DispatchTest, ARecordOutsideItsShardIsNotCounted) {
  absl::StatusOr<RunOutcome> outcome =
      RunScenario(Scenario(), Options({{"127.0.0.1:1", ForeignId(77)},
                                       {"127.0.0.1:2", Script{}}}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const v1::RunResult& result = outcome->result;
  EXPECT_EQ(result.overall().requests(), 40u);
  EXPECT_EQ(result.workers(0).invalid_records(), 1u);
  EXPECT_EQ(result.workers(0).invalid_example(), "request 77 is not one of shard 0's ids");
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);
  EXPECT_EQ(outcome->exit_status, 4);
}

// A worker that refuses its shard is a configuration error, not a failed worker: before any
// record, the run fails with the worker's reason and nothing is reassigned.
TEST_F(DispatchTest, ARefusedShardIsAConfigurationError) {
  absl::StatusOr<RunOutcome> outcome = RunScenario(
      Scenario(),
      Options({{"127.0.0.1:1",
                Refuse(absl::InvalidArgumentError("shard.engine.api_key_env: refused"))},
               {"127.0.0.1:2",
                Refuse(absl::InvalidArgumentError("shard.engine.api_key_env: refused"))}}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition);
  // Whichever worker refused first; the other's shard may not even have started.
  EXPECT_THAT(std::string(outcome.status().message()),
              ::testing::MatchesRegex("worker 127\\.0\\.0\\.1:[12] refused the shard: "
                                      "shard\\.engine\\.api_key_env: refused"));
  EXPECT_LE(seen_.shards["127.0.0.1:1"].size() + seen_.shards["127.0.0.1:2"].size(), 2u);
}

}  // namespace
}  // namespace llmbench::coordinator
