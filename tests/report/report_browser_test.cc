// report.html in a real browser. A real run — `llmbench quick` against llmbench-sim over
// loopback, with local llmbench-worker processes and a 5% fault rate (errors that end at once,
// no stalls) so the error charts and tables carry data — writes its results; headless Chromium (Debian's `chromium`) then loads
// report.html from disk with the network-facing features off, and the test checks:
//  - the page ran to the end (body data-rendered="ok") with no uncaught error and no console
//    output at all (Chromium logs every console message to stderr as INFO:CONSOLE);
//  - every expected chart exists and drew data points (data-points="N" > 0, set by the page
//    from uPlot's draw hook);
//  - the verdict shown is summary.json's, and the engine table names the engine;
//  - `llmbench report DIR` re-renders a byte-identical report.html.
// A screenshot and the run's files are kept in the build tree (tests/report/last-run/) for a
// human to look at.
//
// A second run is a real capacity sweep (`llmbench run` of a load.sweep scenario with
// engines[].price_per_hour) against llmbench-sim: its report must add the Cost and Capacity
// sweep sections — the throughput–latency chart drew its probes, the probe table has one row
// per probe, and the cost cells show dollar amounts — with the same silent console. Its
// screenshot lands in tests/report/last-run-sweep/.
//
// Banners (issue 12): BannersFollowTheVerdict renders the golden summary.json with the
// verdicts the coordinator writes — every request failed with the error-rate threshold crossed
// (red, the threshold in large text), ENGINE_DOWN (red), VALID with exit status 0 (green) and
// the file as an older llmbench wrote it, without an exit status (grey, never green on a guess)
// — and RealRunWhereEveryRequestFailsIsRed runs `llmbench quick` against a simulator that
// answers 500 to everything. The first run's checks also cover the legends (no hover
// placeholder without a cursor), the ITL histogram's axis (gaps, not requests), the
// client − server cells (never an impossible, negative latency difference) and the Resources
// text (a saturated load host is a warning).
//
// Chromium missing is a failure, not a skip: install it with scripts/install-deps.sh.
// Timeouts are generous (the run 120 s, each browser load 120 s) for a loaded 2-core machine.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/exporters.h"
#include "coordinator/gpu_metrics.h"
#include "coordinator/html_report.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace llmbench {
namespace {

using llmbench::testing::ExitStatus;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr auto kRunTimeout = std::chrono::seconds(120);
constexpr auto kBrowserTimeout = std::chrono::seconds(120);

// Every chart the page draws for a one-engine run with per-request data.
const std::vector<std::string> kExpectedCharts = {
    "ttft_ms-cdf",     "ttft_ms-hist",       "itl_ms-cdf",          "itl_ms-hist",
    "tpot_ms-cdf",     "tpot_ms-hist",       "e2e_ms-cdf",          "e2e_ms-hist",
    "ttft_ms-time",    "e2e_ms-time",        "throughput-time",     "tokens-time",
    "concurrency-time", "errors-time",       "worker-throughput",   "worker-concurrency",
    // Engine telemetry (the sim's vLLM /metrics gauges) and the workers' procfs samples.
    "telemetry-gauges-0", "resources-host-cpu", "resources-process-cpu", "resources-host-mem",
    "resources-net"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Value of attribute `name` in the start tag that contains position `at`, or "" when absent.
std::string AttributeInTag(const std::string& dom, size_t at, const std::string& name) {
  const size_t tag_start = dom.rfind('<', at);
  const size_t tag_end = dom.find('>', at);
  const std::string needle = " " + name + "=\"";
  const size_t found = dom.find(needle, tag_start);
  if (found == std::string::npos || found > tag_end) return "";
  const size_t value_start = found + needle.size();
  return dom.substr(value_start, dom.find('"', value_start) - value_start);
}

struct BrowserRun {
  ExitStatus exit;
  std::string stdout_text;
  std::string stderr_text;
};

// Runs headless Chromium on `url` with `mode_args` (--dump-dom or --screenshot=...).
BrowserRun RunChromium(const std::string& url, const std::vector<std::string>& mode_args,
                       const std::string& profile_dir) {
  std::vector<std::string> argv = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-extensions",
                                   "--user-data-dir=" + profile_dir,
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--virtual-time-budget=10000",
                                   "--window-size=1400,6200"};
  argv.insert(argv.end(), mode_args.begin(), mode_args.end());
  argv.push_back(url);
  BrowserRun run;
  auto process = Subprocess::Start(argv, {"HOME=" + profile_dir});
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return run;
  }
  auto status = (*process)->Wait(kBrowserTimeout);
  if (!status.ok()) {
    ADD_FAILURE() << "chromium did not finish in 120 s: " << status.status()
                  << "\nstderr:\n" << (*process)->Stderr();
    run.exit = (*process)->Stop();
  } else {
    run.exit = *status;
  }
  run.stdout_text = absl::StrJoin((*process)->StdoutLines(), "\n");
  run.stderr_text = (*process)->Stderr();
  return run;
}

// The page's DOM after it ran, up to the embedded data (whose text would match too), with the
// checks every report gets: it rendered to the end, no page error, no console output.
std::string RenderedDom(const std::string& report_path, const std::string& profile_dir) {
  BrowserRun run = RunChromium("file://" + report_path, {"--dump-dom"}, profile_dir);
  EXPECT_TRUE(run.exit.exited && run.exit.code == 0) << "chromium failed; stderr:\n"
                                                     << run.stderr_text;
  const std::string& full_dom = run.stdout_text;
  const size_t data_at = full_dom.find("id=\"llmbench-data\"");
  if (data_at == std::string::npos) {
    ADD_FAILURE() << "no data element in the DOM:\n" << full_dom.substr(0, 2000);
    return "";
  }
  std::string dom = full_dom.substr(0, data_at);
  const size_t body_tag = dom.find("<body");
  EXPECT_NE(body_tag, std::string::npos);
  if (body_tag != std::string::npos) {
    EXPECT_EQ(AttributeInTag(dom, body_tag, "data-rendered"), "ok")
        << "the report script did not finish; stderr:\n" << run.stderr_text;
  }
  const size_t html_tag = dom.find("<html");
  EXPECT_NE(html_tag, std::string::npos);
  if (html_tag != std::string::npos) {
    EXPECT_EQ(AttributeInTag(dom, html_tag, "data-errors"), "")
        << "page error: " << AttributeInTag(dom, html_tag, "data-last-error");
  }
  std::istringstream log(run.stderr_text);
  for (std::string line; std::getline(log, line);) {
    EXPECT_EQ(line.find(":CONSOLE"), std::string::npos) << line;
  }
  return dom;
}

// data-points of every chart container, by data-chart id.
std::map<std::string, int> ChartPoints(const std::string& dom) {
  std::map<std::string, int> points;
  for (size_t at = dom.find("data-chart=\""); at != std::string::npos;
       at = dom.find("data-chart=\"", at + 1)) {
    const std::string id = AttributeInTag(dom, at, "data-chart");
    points[id] = std::atoi(AttributeInTag(dom, at, "data-points").c_str());
  }
  return points;
}

// The text of each <td> of the first <table class="CLS">, row by row.
std::vector<std::vector<std::string>> TableCells(const std::string& dom, const std::string& cls) {
  std::vector<std::vector<std::string>> rows;
  const size_t start = dom.find("<table class=\"" + cls + "\"");
  if (start == std::string::npos) return rows;
  const size_t body = dom.find("<tbody>", start);
  const size_t end = dom.find("</tbody>", start);
  for (size_t tr = dom.find("<tr>", body); tr != std::string::npos && tr < end;
       tr = dom.find("<tr>", tr + 1)) {
    const size_t tr_end = dom.find("</tr>", tr);
    std::vector<std::string> cells;
    for (size_t td = dom.find("<td", tr); td != std::string::npos && td < tr_end;
         td = dom.find("<td", td + 1)) {
      const size_t open_end = dom.find('>', td) + 1;
      std::string text = dom.substr(open_end, dom.find("</td>", open_end) - open_end);
      // Strip inner tags (a link or a tag span) down to their text.
      std::string plain;
      bool in_tag = false;
      for (char c : text) {
        if (c == '<') in_tag = true;
        if (!in_tag) plain.push_back(c);
        if (c == '>') in_tag = false;
      }
      cells.push_back(plain);
    }
    rows.push_back(cells);
  }
  return rows;
}

// The text inside the element whose start tag contains `marker` (tags stripped, the DOM's
// entities decoded), or "" when there is none.
std::string ElementText(const std::string& dom, const std::string& marker) {
  const size_t at = dom.find(marker);
  if (at == std::string::npos) return "";
  const size_t open_end = dom.find('>', at) + 1;
  const size_t tag_start = dom.rfind('<', at);
  const std::string tag =
      dom.substr(tag_start + 1, dom.find_first_of(" >", tag_start) - tag_start - 1);
  // The matching close tag, counting nested elements of the same name.
  int depth = 1;
  size_t pos = open_end;
  size_t close = std::string::npos;
  while (depth > 0) {
    const size_t next_open = dom.find("<" + tag, pos);
    const size_t next_close = dom.find("</" + tag + ">", pos);
    if (next_close == std::string::npos) return "";
    if (next_open != std::string::npos && next_open < next_close) {
      ++depth;
      pos = next_open + 1;
    } else {
      --depth;
      close = next_close;
      pos = next_close + 1;
    }
  }
  std::string plain;
  bool in_tag = false;
  for (char c : dom.substr(open_end, close - open_end)) {
    if (c == '<') in_tag = true;
    if (!in_tag) plain.push_back(c);
    if (c == '>') in_tag = false;
  }
  for (const auto& [entity, text] : std::vector<std::pair<std::string, std::string>>{
           {"&gt;", ">"}, {"&lt;", "<"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (size_t e = plain.find(entity); e != std::string::npos; e = plain.find(entity, e)) {
      plain.replace(e, entity.size(), text);
      e += text.size();
    }
  }
  return plain;
}

// The texts of the <li> items of the element whose start tag contains `marker`.
std::vector<std::string> ListItems(const std::string& dom, const std::string& marker) {
  std::vector<std::string> items;
  const size_t at = dom.find(marker);
  if (at == std::string::npos) return items;
  const size_t end = dom.find("</ul>", at);
  for (size_t li = dom.find("<li>", at); li != std::string::npos && li < end;
       li = dom.find("<li>", li + 1)) {
    items.push_back(ElementText(dom.substr(li), "<li>"));
  }
  return items;
}

struct Banner {
  std::string tone;
};
Banner ParseBanner(const std::string& json) {
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &value).ok()) << json;
  Banner banner;
  banner.tone = value.struct_value().fields().at("tone").string_value();
  return banner;
}

// "$" then a digit: a dollar amount the page formatted (an absent value shows "–").
bool IsDollars(const std::string& text) {
  return text.size() >= 2 && text[0] == '$' && text[1] >= '0' && text[1] <= '9';
}

class ReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmbench-report-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
  std::string tmp_;
};

TEST_F(ReportBrowserTest, RealRunRendersInChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium))
      << kChromium << " is missing: the HTML report is tested in headless Chromium. Install "
      << "it with scripts/install-deps.sh (Debian package `chromium`).";

  // 1. A real run.
  SimProcess::Options sim_options;
  sim_options.kinds = {"vllm"};
  sim_options.args = {"--ttft-base-ms", "20", "--itl-ms", "3", "--jitter", "0.3",
                      "--fault-rate", "0.05", "--fault", "status_500", "--fault", "status_429",
                      "--fault", "reset", "--fault", "stream_error", "--seed", "7"};
  auto sim = SimProcess::Start(sim_options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::string out_dir = tmp_ + "/run";
  auto llmbench = Subprocess::Start(
      {LLMBENCH_CLI_BINARY, "quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
       "sim-model", "-n", "400", "-c", "8", "--max-tokens", "24", "--local-workers", "2",
       "--out", out_dir, "--quiet"});
  ASSERT_TRUE(llmbench.ok()) << llmbench.status();
  auto exit = (*llmbench)->Wait(kRunTimeout);
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << (*llmbench)->Stderr();
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out_dir);
  ASSERT_TRUE(result.ok()) << result.status() << "\nstderr:\n" << (*llmbench)->Stderr();
  ASSERT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, coordinator::ExitStatusFor(*result, result->scenario().thresholds(), nullptr))
      << (*llmbench)->Stderr();
  ASSERT_EQ(result->overall().requests(), 400u);
  ASSERT_GT(result->overall().successes(), 0u);
  const std::string report_path = out_dir + "/report.html";
  ASSERT_TRUE(std::filesystem::exists(report_path));
  const std::string html = ReadFile(report_path);

  // 2. The DOM after the page ran.
  const std::string dom = RenderedDom(report_path, tmp_ + "/profile1");
  ASSERT_FALSE(dom.empty());
  std::map<std::string, int> points = ChartPoints(dom);
  std::vector<std::string> ids;
  for (const auto& [id, n] : points) ids.push_back(id);
  EXPECT_EQ(points.size(), kExpectedCharts.size()) << absl::StrJoin(ids, ", ");
  for (const std::string& id : kExpectedCharts) {
    ASSERT_TRUE(points.count(id)) << "chart " << id << " missing; have " << absl::StrJoin(ids, ", ");
    EXPECT_GT(points[id], 0) << "chart " << id << " drew no points";
  }
  // uPlot drew a canvas for each chart.
  size_t canvases = 0;
  for (size_t at = dom.find("<canvas"); at != std::string::npos; at = dom.find("<canvas", at + 1)) {
    ++canvases;
  }
  EXPECT_EQ(canvases, kExpectedCharts.size());

  const std::string state = v1::Verdict::State_Name(result->verdict().state()).substr(6);
  const size_t verdict = dom.find("id=\"verdict\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, verdict, "data-state"), state);
  // The banner's colour is the one coordinator::VerdictBannerJson decided (its cases are unit
  // tests in html_report_test.cc; the fixed ones are in BannersFollowTheVerdict below).
  EXPECT_EQ(AttributeInTag(dom, verdict, "data-tone"),
            ParseBanner(coordinator::VerdictBannerJson(*result)).tone);
  // 5% faults: the success rate is shown large, with the failures counted.
  const uint64_t failed = result->overall().requests() - result->overall().successes();
  ASSERT_GT(failed, 0u);
  const std::string success = ElementText(dom, "id=\"verdict-success\"");
  const std::string tail = absl::StrCat("% of 400 requests succeeded (", failed, " failed)");
  ASSERT_GT(success.size(), tail.size()) << success;
  EXPECT_EQ(success.substr(success.size() - tail.size()), tail) << success;
  EXPECT_NEAR(std::atof(success.c_str()),
              100.0 * static_cast<double>(result->overall().successes()) / 400.0, 0.051)
      << success;

  // Legends show no hover placeholder ("TTFT (ms): –") without a cursor: a CDF line shows its
  // exact percentiles, other series nothing.
  EXPECT_EQ(dom.find("<td class=\"u-value\">–</td>"), std::string::npos);
  EXPECT_EQ(dom.find("<td class=\"u-value\">--</td>"), std::string::npos);
  const v1::Distribution& ttft = result->engines(0).aggregates().ttft_ms();
  const size_t ttft_cdf = dom.find("data-chart=\"ttft_ms-cdf\"");
  ASSERT_NE(ttft_cdf, std::string::npos);
  const std::string legend = ElementText(
      dom.substr(dom.find("<td class=\"u-value\">p50 ", ttft_cdf)), "<td class=\"u-value\">");
  double p50 = 0, p99 = 0;
  ASSERT_EQ(std::sscanf(legend.c_str(), "p50 %lf · p99 %lf ms", &p50, &p99), 2) << legend;
  EXPECT_NEAR(p50, ttft.p50(), 0.01 * ttft.p50()) << legend;
  EXPECT_NEAR(p99, ttft.p99(), 0.01 * ttft.p99()) << legend;
  // The ITL histogram counts gaps, not requests (uPlot draws axis labels on the canvas; the
  // page puts each chart's y label in data-y-label).
  const size_t itl_hist = dom.find("data-chart=\"itl_ms-hist\"");
  ASSERT_NE(itl_hist, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, itl_hist, "data-y-label"), "% of gaps");
  const size_t ttft_hist = dom.find("data-chart=\"ttft_ms-hist\"");
  ASSERT_NE(ttft_hist, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, ttft_hist, "data-y-label"), "% of requests");
  // Client vs server: every client − server latency cell (TTFT and E2E p50/p99) is a
  // non-negative difference with its bounds, or says why there is none; server quantiles show
  // their bucket. (Token differences may be negative: the engine counts the tokens of requests
  // that failed after generating.)
  std::vector<std::vector<std::string>> cvs = TableCells(dom, "client-vs-server");
  ASSERT_EQ(cvs.size(), 8u);
  for (size_t r = 0; r < 4; ++r) {
    const std::vector<std::string>& row = cvs[r];
    ASSERT_EQ(row.size(), 4u);
    const std::string& diff = row[3];
    const bool explained = diff == "–" || diff.rfind("too coarse to compare: ", 0) == 0 ||
                           diff.rfind("not comparable: ", 0) == 0;
    EXPECT_TRUE(explained || (!diff.empty() && diff[0] >= '0' && diff[0] <= '9'))
        << row[0] << ": " << diff;
  }
  EXPECT_EQ(cvs[0][0], "TTFT p50 (ms)");
  EXPECT_TRUE(cvs[0][2].find('(') != std::string::npos || cvs[0][2].rfind("≤ ", 0) == 0)
      << cvs[0][2];
  // Resources: a saturated load host is a warning, as docs/metrics.md and the verdict say.
  const std::string resources = ElementText(dom, "id=\"resources\"");
  EXPECT_NE(resources.find("adds a warning to the verdict; it does not change the verdict's state"),
            std::string::npos);
  EXPECT_EQ(resources.find("DEGRADED"), std::string::npos);
  EXPECT_NE(dom.find(">vllm</td>"), std::string::npos);
  EXPECT_NE(dom.find("Time to first token: first_token - sent"), std::string::npos);  // definitions
  // No price and no sweep: neither section.
  EXPECT_EQ(dom.find("id=\"cost\""), std::string::npos);
  EXPECT_EQ(dom.find("id=\"sweep\""), std::string::npos);

  // 3. A screenshot for a human; the run's files beside it.
  const std::string artifacts = LLMBENCH_REPORT_ARTIFACTS_DIR;
  std::error_code ec;
  std::filesystem::remove_all(artifacts, ec);
  std::filesystem::create_directories(artifacts);
  BrowserRun shot = RunChromium("file://" + report_path,
                                {"--screenshot=" + artifacts + "/report.png",
                                 "--hide-scrollbars"},
                                tmp_ + "/profile2");
  EXPECT_TRUE(shot.exit.exited && shot.exit.code == 0) << shot.stderr_text;
  EXPECT_GT(std::filesystem::file_size(artifacts + "/report.png", ec), 10000u) << ec.message();
  std::filesystem::copy(out_dir, artifacts, std::filesystem::copy_options::recursive |
                                                std::filesystem::copy_options::overwrite_existing,
                        ec);

  // 4. `llmbench report DIR` renders the same page again.
  std::filesystem::remove(report_path);
  auto rerender = Subprocess::Start({LLMBENCH_CLI_BINARY, "report", out_dir});
  ASSERT_TRUE(rerender.ok()) << rerender.status();
  auto rerender_exit = (*rerender)->Wait(kRunTimeout);
  ASSERT_TRUE(rerender_exit.ok()) << rerender_exit.status();
  EXPECT_EQ(rerender_exit->code, exit->code) << (*rerender)->Stderr();
  EXPECT_EQ(ReadFile(report_path), html);
}

TEST_F(ReportBrowserTest, SweepWithCostRendersInChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  // A deterministic simulator (see tests/sweep/sweep_integration_test.cc): 4 slots, 10 ms
  // prefill, 5 ms per decode step, 20 tokens: about 38 req/s. Probes of 1 s from 8 req/s
  // doubling (8, 16, 32 good or not, 64 bad), then 2 bisections: 6–7 probes, ~15 s.
  SimProcess::Options sim_options;
  sim_options.kinds = {"vllm"};
  sim_options.args = {"--jitter", "0", "--natural-tokens", "0", "--itl-per-seq-us", "0",
                      "--ttft-per-token-us", "0", "--threads", "1", "--max-batch", "4",
                      "--ttft-base-ms", "10", "--itl-ms", "5"};
  auto sim = SimProcess::Start(sim_options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::string scenario = tmp_ + "/sweep.yaml";
  std::ofstream(scenario) << "name: report-sweep\n"
                             "engines:\n"
                             "  - kind: vllm\n"
                             "    name: sim\n"
                             "    base_url: " << (*sim)->BaseUrl("vllm") << "\n"
                             "    model: sim-model\n"
                             "    price_per_hour: 3.6\n"
                             "    gpu_count: 1\n"
                             "prompts:\n"
                             "  synthetic:\n"
                             "    input_tokens: {kind: fixed, mean: 16}\n"
                             "generation:\n"
                             "  max_tokens: 20\n"
                             "  ignore_eos: true\n"
                             "load:\n"
                             "  sweep: {start_rps: 8, max_rps: 400, step_factor: 2, "
                             "step_seconds: 1, bisect_iterations: 2}\n"
                             "thresholds:\n"
                             "  max_lateness_p99_ms: 50\n"
                             "seed: 7\n";
  const std::string out_dir = tmp_ + "/sweep-run";
  auto llmbench = Subprocess::Start({LLMBENCH_CLI_BINARY, "run", scenario, "--out", out_dir,
                                     "--local-workers", "1", "--quiet"});
  ASSERT_TRUE(llmbench.ok()) << llmbench.status();
  auto exit = (*llmbench)->Wait(std::chrono::seconds(150));
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << (*llmbench)->Stderr();
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out_dir);
  ASSERT_TRUE(result.ok()) << result.status() << "\nstderr:\n" << (*llmbench)->Stderr();
  ASSERT_EQ(result->sweeps_size(), 1);
  const v1::SweepResult& sweep = result->sweeps(0);
  ASSERT_GE(sweep.points_size(), 2);
  ASSERT_TRUE(sweep.has_knee_rps()) << "the first probe (8 req/s, a fifth of capacity) failed: "
                                    << sweep.points(0).reason();
  ASSERT_EQ(result->engines_size(), 1);
  ASSERT_TRUE(result->engines(0).has_cost());
  const std::string report_path = out_dir + "/report.html";
  ASSERT_TRUE(std::filesystem::exists(report_path));

  const std::string dom = RenderedDom(report_path, tmp_ + "/profile1");
  ASSERT_FALSE(dom.empty());
  // No requests.csv beside a sweep's summary: CDFs through the knee probe's percentiles, and
  // the throughput–latency chart.
  std::map<std::string, int> points = ChartPoints(dom);
  std::vector<std::string> ids;
  for (const auto& [id, n] : points) ids.push_back(id);
  const std::vector<std::string> expected = {"e2e_ms-cdf", "itl_ms-cdf", "sweep-0",
                                             "telemetry-gauges-0", "tpot_ms-cdf", "ttft_ms-cdf"};
  EXPECT_EQ(ids, expected);
  for (const auto& [id, n] : points) EXPECT_GT(n, 0) << "chart " << id << " drew no points";
  // The sweep chart's series: E2E p50 and p99, TTFT p50 and p99 over every probe with a
  // latency, then the good/bad markers (one per such probe) and the knee.
  int with_latency = 0;
  for (const v1::SweepPoint& p : sweep.points()) with_latency += p.has_e2e_p99_ms() ? 1 : 0;
  EXPECT_EQ(points["sweep-0"], 5 * with_latency + 1);
  const size_t sweep_chart = dom.find("data-chart=\"sweep-0\"");
  ASSERT_NE(sweep_chart, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, sweep_chart, "data-series"), "7");

  // The probe table: one row per probe, in probe order, the knee marked once.
  std::vector<std::vector<std::string>> probes = TableCells(dom, "sweep");
  ASSERT_EQ(probes.size(), static_cast<size_t>(sweep.points_size()));
  int knees = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    ASSERT_EQ(probes[i].size(), 14u);
    EXPECT_EQ(probes[i][0], std::to_string(i));
    EXPECT_EQ(probes[i][1], sweep.points(static_cast<int>(i)).phase());
    const std::string expected_result =
        sweep.points(static_cast<int>(i)).good() ? "good" : "bad";
    EXPECT_EQ(probes[i][11].substr(0, expected_result.size()), expected_result) << i;
    knees += probes[i][11] == "good · knee" ? 1 : 0;
  }
  EXPECT_EQ(knees, 1);
  // Each probe row links to the probe's own report, relative to this one.
  for (const v1::SweepPoint& p : sweep.points()) {
    const std::filesystem::path probe_dir(p.out_dir());
    const std::string href = (probe_dir.parent_path().filename() / probe_dir.filename()).string() +
                             "/report.html";
    EXPECT_NE(dom.find("href=\"" + href + "\""), std::string::npos) << href;
    EXPECT_TRUE(std::filesystem::exists(out_dir + "/" + href)) << href;
  }
  EXPECT_NE(dom.find("id=\"sweep\""), std::string::npos);

  // Cost: the comparison table and the per-engine summary show dollar amounts.
  std::vector<std::vector<std::string>> cost = TableCells(dom, "cost");
  ASSERT_EQ(cost.size(), 1u);
  ASSERT_EQ(cost[0].size(), 8u);
  EXPECT_EQ(cost[0][0], "sim");
  EXPECT_EQ(cost[0][1], "$3.60");
  EXPECT_EQ(cost[0][2], "1");
  for (int c : {5, 6, 7}) EXPECT_TRUE(IsDollars(cost[0][c])) << c << ": " << cost[0][c];
  std::vector<std::vector<std::string>> agg = TableCells(dom, "agg");
  ASSERT_EQ(agg.size(), 1u);
  ASSERT_EQ(agg[0].size(), 17u);
  for (int c : {14, 15, 16}) EXPECT_TRUE(IsDollars(agg[0][c])) << c << ": " << agg[0][c];
  EXPECT_EQ(cost[0][5], agg[0][14]);

  const std::string artifacts = std::string(LLMBENCH_REPORT_ARTIFACTS_DIR) + "-sweep";
  std::error_code ec;
  std::filesystem::remove_all(artifacts, ec);
  std::filesystem::create_directories(artifacts);
  BrowserRun shot = RunChromium("file://" + report_path,
                                {"--screenshot=" + artifacts + "/report.png",
                                 "--hide-scrollbars"},
                                tmp_ + "/profile2");
  EXPECT_TRUE(shot.exit.exited && shot.exit.code == 0) << shot.stderr_text;
  EXPECT_GT(std::filesystem::file_size(artifacts + "/report.png", ec), 10000u) << ec.message();
  std::filesystem::copy(out_dir, artifacts, std::filesystem::copy_options::recursive |
                                                std::filesystem::copy_options::overwrite_existing,
                        ec);
}

// The banner at the top follows the verdict (coordinator::VerdictBannerJson): red with the
// crossed threshold in large text when every request failed, red for an engine that went
// down, green only for a VALID run that exited 0, grey for a summary.json that predates exit
// statuses. Each case is the golden run (tests/golden: 6 requests, 4 successes, no exit
// status; engines vllm and ollama) with its verdict and counts set as the coordinator writes
// them, rendered by `llmbench report` and loaded in Chromium.
TEST_F(ReportBrowserTest, BannersFollowTheVerdict) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  const std::string golden = std::string(LLMBENCH_SOURCE_DIR) + "/tests/golden";
  absl::StatusOr<v1::RunResult> base = coordinator::LoadRunResult(golden);
  ASSERT_TRUE(base.ok()) << base.status();
  // As a summary.json from before exit statuses: the cases below set what they need.
  base->mutable_verdict()->clear_exit_status();
  base->mutable_verdict()->clear_exit_reason();
  base->mutable_verdict()->clear_thresholds_crossed();
  ASSERT_EQ(base->engines_size(), 2);  // vllm and ollama, 3 requests each
  struct Case {
    std::string name;
    std::function<void(v1::RunResult*)> edit;  // nullptr: the file as it is
    std::string state, tone, exit_status;
    std::vector<std::string> problems;
    std::string success;  // the large success line ("" when 100%)
  };
  // Every engine's and the overall counts: all failed, or all succeeded.
  auto set_successes = [](v1::RunResult* r, bool all) {
    for (v1::Aggregates* a : {r->mutable_overall(), r->mutable_engines(0)->mutable_aggregates(),
                              r->mutable_engines(1)->mutable_aggregates()}) {
      a->set_successes(all ? a->requests() : 0);
      a->set_failures(all ? 0 : a->requests());
      a->set_success_rate(all ? 1 : 0);
      if (all) a->clear_errors();
    }
  };
  auto all_failed = [&](v1::RunResult* r) {
    set_successes(r, false);
    v1::Verdict* v = r->mutable_verdict();
    v->set_state(v1::Verdict::STATE_VALID);
    v->add_thresholds_crossed("error rate 100.0% (6 of 6 requests) > max_error_rate 5.0%");
    v->set_exit_status(3);
    v->set_exit_reason("a threshold was crossed");
  };
  auto engine_down = [](v1::RunResult* r) {
    v1::Verdict* v = r->mutable_verdict();
    v->set_state(v1::Verdict::STATE_ENGINE_DOWN);
    v->add_reasons("engine vllm was unreachable for 3.0 s: its run was stopped early");
    v->set_exit_status(6);
  };
  auto valid = [&](v1::RunResult* r) {
    set_successes(r, true);
    r->mutable_verdict()->set_state(v1::Verdict::STATE_VALID);
    r->mutable_verdict()->set_exit_status(0);
  };
  const std::vector<Case> cases = {
      {"all-failed", all_failed, "VALID", "bad", "3",
       {"threshold crossed: error rate 100.0% (6 of 6 requests) > max_error_rate 5.0%",
        "exit status 3: a threshold was crossed", "no request succeeded (0 of 6)"},
       "0.0% of 6 requests succeeded (6 failed) — vllm 0.0%, ollama 0.0%"},
      {"engine-down", engine_down, "ENGINE_DOWN", "bad", "6",
       {"engine vllm was unreachable for 3.0 s: its run was stopped early", "exit status 6"},
       "66.7% of 6 requests succeeded (2 failed) — vllm 66.7%, ollama 66.7%"},
      {"valid", valid, "VALID", "good", "0", {}, ""},
      {"older-file", [](v1::RunResult*) {}, "VALID", "unknown", "unknown", {},
       "66.7% of 6 requests succeeded (2 failed) — vllm 66.7%, ollama 66.7%"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = tmp_ + "/" + c.name;
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(golden + "/requests.csv", dir + "/requests.csv");
    if (c.edit == nullptr) {
      std::filesystem::copy_file(golden + "/summary.json", dir + "/summary.json");
    } else {
      v1::RunResult result = *base;
      c.edit(&result);
      absl::StatusOr<std::string> json = coordinator::SummaryJson(result);
      ASSERT_TRUE(json.ok()) << json.status();
      std::ofstream(dir + "/summary.json") << *json;
    }
    auto report = Subprocess::Start({LLMBENCH_CLI_BINARY, "report", dir});
    ASSERT_TRUE(report.ok()) << report.status();
    auto exit = (*report)->Wait(kRunTimeout);
    ASSERT_TRUE(exit.ok()) << exit.status();
    ASSERT_TRUE(std::filesystem::exists(dir + "/report.html")) << (*report)->Stderr();

    const std::string dom = RenderedDom(dir + "/report.html", tmp_ + "/profile-" + c.name);
    ASSERT_FALSE(dom.empty());
    const size_t verdict = dom.find("id=\"verdict\"");
    ASSERT_NE(verdict, std::string::npos);
    EXPECT_EQ(AttributeInTag(dom, verdict, "data-state"), c.state);
    EXPECT_EQ(AttributeInTag(dom, verdict, "data-tone"), c.tone);
    EXPECT_EQ(AttributeInTag(dom, verdict, "data-exit-status"), c.exit_status);
    EXPECT_EQ(AttributeInTag(dom, verdict, "class"), "verdict verdict-" + c.tone);
    EXPECT_EQ(ListItems(dom, "class=\"verdict-problems\""), c.problems);
    EXPECT_EQ(ElementText(dom, "id=\"verdict-success\""), c.success);
    if (c.tone == "unknown") {
      EXPECT_EQ(ElementText(dom, "class=\"verdict-exit\""),
                "exit status not recorded (a summary.json from an older llmbench): judge the "
                "success rate and the numbers below");
    }
    if (c.tone == "good") {
      // Green: nothing in large text but the state.
      EXPECT_EQ(dom.find("class=\"verdict-problems\""), std::string::npos);
      EXPECT_EQ(ElementText(dom, "class=\"verdict-exit\""), "exit status 0");
    }
  }
}

// Issue 17's sections: the run's label and tags in the header, "Prompt and output lengths" and
// "GPU metrics (DCGM)" (a table and three charts), drawn from summary.json: the golden run with
// lengths added and the recorded DCGM exporter text (tests/fixtures/dcgm/) accumulated as a
// run would. A screenshot lands in tests/report/last-run-workload/.
TEST_F(ReportBrowserTest, LengthsGpuMetricsAndTagsRenderInChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  const std::string golden = std::string(LLMBENCH_SOURCE_DIR) + "/tests/golden";
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(golden);
  ASSERT_TRUE(result.ok()) << result.status();
  result->mutable_scenario()->set_label("nightly h100");
  (*result->mutable_scenario()->mutable_tags())["gpu"] = "h100";
  v1::LengthReport* l = result->mutable_engines(0)->mutable_lengths();
  l->set_method("engine");
  l->set_source("http://10.0.0.5:8000/tokenize");
  l->set_prompts(1000);
  l->set_prompts_adjusted(998);
  l->set_input_compared(3);
  l->set_input_exact(3);
  l->mutable_input_requested()->set_count(3);
  l->mutable_input_requested()->set_mean(512);
  l->set_input_mean_error(0);
  l->set_input_mean_abs_error_pct(0);
  l->set_input_max_abs_error(0);
  coordinator::GpuMetricsAccumulator dcgm("http://gpu-node-7:9400/metrics", 2);
  const std::string fixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/dcgm/";
  dcgm.AddScrape(1'000'000'000, ReadFile(fixtures + "h100x2-scrape1.prom"));
  dcgm.AddScrape(3'000'000'000, ReadFile(fixtures + "h100x2-scrape2.prom"));
  *result->add_gpu_metrics() = dcgm.Result();
  const std::string dir = tmp_ + "/workload";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(golden + "/requests.csv", dir + "/requests.csv");
  absl::StatusOr<std::string> json = coordinator::SummaryJson(*result);
  ASSERT_TRUE(json.ok()) << json.status();
  std::ofstream(dir + "/summary.json") << *json;
  auto report = Subprocess::Start({LLMBENCH_CLI_BINARY, "report", dir});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE((*report)->Wait(kRunTimeout).ok());
  ASSERT_TRUE(std::filesystem::exists(dir + "/report.html")) << (*report)->Stderr();

  const std::string dom = RenderedDom(dir + "/report.html", tmp_ + "/profile-workload");
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("<span class=\"label\">label: nightly h100</span>"), std::string::npos);
  EXPECT_NE(dom.find("<span class=\"tag\">gpu=h100</span>"), std::string::npos);
  const auto lengths = TableCells(dom, "lengths");
  ASSERT_EQ(lengths.size(), 1u) << "only the engine with a lengths block";
  EXPECT_EQ(lengths[0][0], "vllm");
  EXPECT_EQ(lengths[0][1], "engine http://10.0.0.5:8000/tokenize");
  EXPECT_EQ(lengths[0][6], "3 (100.0%)");
  EXPECT_EQ(lengths[0][7], "512.0");
  const auto gpus = TableCells(dom, "gpu-metrics");
  ASSERT_EQ(gpus.size(), 2u);
  EXPECT_EQ(gpus[0][0], "gpu-node-7 GPU 0 NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpus[0][3], "93.00 / 99.00");
  EXPECT_EQ(gpus[1][3], "1.000 / 2.000");
  const std::map<std::string, int> points = ChartPoints(dom);
  for (const char* chart : {"gpu-gpu_util_pct", "gpu-fb_used_mib", "gpu-power_w"}) {
    ASSERT_TRUE(points.contains(chart)) << chart;
    EXPECT_EQ(points.at(chart), 4) << chart << ": two GPUs, two scrapes";
  }
  const std::string artifacts = std::string(LLMBENCH_REPORT_ARTIFACTS_DIR) + "-workload";
  std::error_code ec;
  std::filesystem::remove_all(artifacts, ec);
  std::filesystem::create_directories(artifacts);
  BrowserRun shot = RunChromium("file://" + dir + "/report.html",
                                {"--screenshot=" + artifacts + "/report.png", "--hide-scrollbars"},
                                tmp_ + "/profile-workload-shot");
  EXPECT_TRUE(shot.exit.exited && shot.exit.code == 0) << shot.stderr_text;
}

// Issue 17's workload sections from real runs against the simulator: a multi-turn run (two
// workers, 6 sessions of 3 turns) draws "Multi-turn conversations" with the session totals, one
// row per turn index whose engine-reported input grows with the history, and the TTFT and input
// charts by turn index; a Mooncake trace replay draws "Trace replay" with the trace's figures.
TEST_F(ReportBrowserTest, MultiTurnAndTraceRenderInChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  SimProcess::Options sim_options;
  sim_options.kinds = {"vllm"};
  sim_options.args = {"--ttft-base-ms", "5", "--itl-ms", "1", "--seed", "5"};
  auto sim = SimProcess::Start(sim_options);
  ASSERT_TRUE(sim.ok()) << sim.status();

  const std::string turns_dir = tmp_ + "/turns";
  auto turns = Subprocess::Start(
      {LLMBENCH_CLI_BINARY, "quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
       "sim-model", "--turns", "3", "--sessions", "6", "-c", "2", "--max-tokens", "8",
       "--local-workers", "2", "--out", turns_dir, "--quiet"});
  ASSERT_TRUE(turns.ok()) << turns.status();
  auto turns_exit = (*turns)->Wait(kRunTimeout);
  ASSERT_TRUE(turns_exit.ok()) << turns_exit.status();
  ASSERT_TRUE(turns_exit->exited && turns_exit->code == 0) << (*turns)->Stderr();
  std::string dom = RenderedDom(turns_dir + "/report.html", tmp_ + "/profile-turns");
  ASSERT_FALSE(dom.empty());
  const auto sessions = TableCells(dom, "turn-sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0][0], "vllm");
  EXPECT_EQ(sessions[0][1], "sessions");
  EXPECT_EQ(sessions[0][2], "6") << "sessions started";
  EXPECT_EQ(sessions[0][3], "6") << "sessions completed";
  EXPECT_EQ(sessions[0][4], "0");
  EXPECT_EQ(sessions[0][5], "0");
  const auto per_turn = TableCells(dom, "turns");
  ASSERT_EQ(per_turn.size(), 3u);
  double last_input = 0;
  for (size_t i = 0; i < per_turn.size(); ++i) {
    EXPECT_EQ(per_turn[i][1], std::to_string(i));
    EXPECT_EQ(per_turn[i][2], "6") << "turn " << i << ": one request per session";
    EXPECT_EQ(per_turn[i][3], "6");
    const double input = std::atof(per_turn[i][4].c_str());
    EXPECT_GT(input, last_input) << "turn " << i << ": the history makes the input grow";
    last_input = input;
    EXPECT_NE(per_turn[i][5], "–") << "turn " << i << " has a TTFT p50";
  }
  std::map<std::string, int> points = ChartPoints(dom);
  for (const char* chart : {"turn-ttft", "turn-input"}) {
    ASSERT_TRUE(points.contains(chart)) << chart;
    EXPECT_GT(points.at(chart), 0) << chart;
  }
  EXPECT_EQ(dom.find("id=\"trace\""), std::string::npos) << "no trace section without a trace";

  const std::string trace_dir = tmp_ + "/trace";
  const std::string trace_file =
      std::string(LLMBENCH_SOURCE_DIR) + "/examples/datasets/mooncake-sample.jsonl";
  auto trace = Subprocess::Start(
      {LLMBENCH_CLI_BINARY, "quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
       "sim-model", "--trace", trace_file, "--trace-speedup", "4", "--local-workers", "2",
       "--out", trace_dir, "--quiet"});
  ASSERT_TRUE(trace.ok()) << trace.status();
  auto trace_exit = (*trace)->Wait(kRunTimeout);
  ASSERT_TRUE(trace_exit.ok()) << trace_exit.status();
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(trace_dir);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << (*trace)->Stderr();
  ASSERT_TRUE(result->has_trace());
  dom = RenderedDom(trace_dir + "/report.html", tmp_ + "/profile-trace");
  ASSERT_FALSE(dom.empty());
  const auto rows = TableCells(dom, "trace");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], trace_file);
  EXPECT_EQ(rows[0][1], "mooncake");
  EXPECT_EQ(rows[0][2], std::to_string(result->trace().file_entries()));
  EXPECT_EQ(rows[0][5], "×4.000");
  EXPECT_EQ(rows[0][6], "no");
  EXPECT_EQ(rows[0][7], std::to_string(result->overall().requests()));
  EXPECT_EQ(result->trace().requests(), result->overall().requests());
  EXPECT_EQ(dom.find("id=\"turns\""), std::string::npos) << "no multi-turn section";
}

// A real run whose every request fails (the simulator answers 500 to all) is never green: its
// banner is red, says that no request succeeded and shows the 0% success rate in large text.
TEST_F(ReportBrowserTest, RealRunWhereEveryRequestFailsIsRed) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  SimProcess::Options sim_options;
  sim_options.kinds = {"vllm"};
  sim_options.args = {"--fault-rate", "1", "--fault", "status_500", "--seed", "3"};
  auto sim = SimProcess::Start(sim_options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::string out_dir = tmp_ + "/failed";
  auto llmbench = Subprocess::Start(
      {LLMBENCH_CLI_BINARY, "quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
       "sim-model", "-n", "20", "-c", "2", "--max-tokens", "8", "--local-workers", "1", "--out",
       out_dir, "--quiet"});
  ASSERT_TRUE(llmbench.ok()) << llmbench.status();
  auto exit = (*llmbench)->Wait(kRunTimeout);
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << (*llmbench)->Stderr();
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out_dir);
  ASSERT_TRUE(result.ok()) << result.status() << "\nstderr:\n" << (*llmbench)->Stderr();
  ASSERT_EQ(result->overall().requests(), 20u);
  ASSERT_EQ(result->overall().successes(), 0u);

  const std::string dom = RenderedDom(out_dir + "/report.html", tmp_ + "/profile");
  ASSERT_FALSE(dom.empty());
  const size_t verdict = dom.find("id=\"verdict\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, verdict, "data-tone"), "bad");
  const std::vector<std::string> problems = ListItems(dom, "class=\"verdict-problems\"");
  EXPECT_NE(std::find(problems.begin(), problems.end(), "no request succeeded (0 of 20)"),
            problems.end())
      << absl::StrJoin(problems, " | ");
  EXPECT_EQ(ElementText(dom, "id=\"verdict-success\""),
            "0.0% of 20 requests succeeded (20 failed)");
  // The headline figure says so too, in the alert style.
  EXPECT_NE(dom.find("class=\"kpi kpi-alert\""), std::string::npos);
}

// diff.html in a real browser: two real runs (TTFT 20 ms vs 40 ms) and `llmbench diff` with
// its page in a folder of its own. The page draws, in the report's style, the outcome (exit 5,
// REGRESSED), both runs with their ids and dates, the table with units and, per metric, the
// base and candidate CDFs overlaid (two series each, every one with points), with the same
// silent console. Its screenshot lands in tests/report/last-run-diff/.
TEST_F(ReportBrowserTest, DiffPageRendersInChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium)) << kChromium << " is missing";
  std::vector<std::string> runs;
  for (const char* ttft : {"20", "40"}) {
    SimProcess::Options sim_options;
    sim_options.kinds = {"vllm"};
    sim_options.args = {"--ttft-base-ms", ttft, "--itl-ms", "3", "--jitter", "0.2"};
    auto sim = SimProcess::Start(sim_options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    runs.push_back(tmp_ + "/ttft-" + ttft);
    auto llmbench = Subprocess::Start(
        {LLMBENCH_CLI_BINARY, "quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
         "sim-model", "-n", "60", "-c", "4", "--max-tokens", "12", "--local-workers", "1",
         "--out", runs.back(), "--quiet"});
    ASSERT_TRUE(llmbench.ok()) << llmbench.status();
    auto exit = (*llmbench)->Wait(kRunTimeout);
    ASSERT_TRUE(exit.ok() && exit->exited && exit->code == 0) << (*llmbench)->Stderr();
  }
  const std::string diff_dir = tmp_ + "/diff";
  auto diff = Subprocess::Start({LLMBENCH_CLI_BINARY, "diff", runs[0], runs[1], "--out", diff_dir,
                                 "--default-max-regression", "30%"});
  ASSERT_TRUE(diff.ok()) << diff.status();
  auto diff_exit = (*diff)->Wait(kRunTimeout);
  ASSERT_TRUE(diff_exit.ok());
  EXPECT_EQ(diff_exit->code, 5) << absl::StrJoin((*diff)->StdoutLines(), "\n")
                                << (*diff)->Stderr();
  const std::string page = diff_dir + "/diff.html";
  ASSERT_TRUE(std::filesystem::exists(page));
  EXPECT_FALSE(std::filesystem::exists(runs[1] + "/diff.html"));

  const std::string dom = RenderedDom(page, tmp_ + "/profile1");
  ASSERT_FALSE(dom.empty());
  std::map<std::string, int> points = ChartPoints(dom);
  std::vector<std::string> ids;
  for (const auto& [id, n] : points) ids.push_back(id);
  EXPECT_EQ(ids, std::vector<std::string>({"diff-0-e2e_ms-cdf", "diff-0-itl_ms-cdf",
                                           "diff-0-tpot_ms-cdf", "diff-0-ttft_ms-cdf"}));
  for (const auto& [id, n] : points) {
    EXPECT_GT(n, 0) << "chart " << id << " drew no points";
    const size_t at = dom.find("data-chart=\"" + id + "\"");
    EXPECT_EQ(AttributeInTag(dom, at, "data-series"), "2") << id;  // base and candidate
  }
  const size_t verdict = dom.find("id=\"verdict\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_EQ(AttributeInTag(dom, verdict, "data-state"), "REGRESSED");
  // Both runs with their ids and start dates.
  std::vector<std::vector<std::string>> sides = TableCells(dom, "runs");
  ASSERT_EQ(sides.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    absl::StatusOr<v1::RunResult> run = coordinator::LoadRunResult(runs[i]);
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(sides[i].size(), 8u);
    EXPECT_EQ(sides[i][0], i == 0 ? "base" : "candidate");
    EXPECT_EQ(sides[i][1], runs[i]);
    EXPECT_EQ(sides[i][2], run->run_id());
    EXPECT_TRUE(sides[i][3].ends_with(" UTC") && sides[i][3].starts_with("20")) << sides[i][3];
  }
  // The table: a unit on every row, ttft_p50 regressed.
  std::vector<std::vector<std::string>> rows = TableCells(dom, "diff");
  ASSERT_EQ(rows.size(), 10u);
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 11u);
    EXPECT_TRUE(row[2] == "ms" || row[2] == "req/s" || row[2] == "tok/s") << row[1];
  }
  EXPECT_EQ(rows[0][1], "ttft_p50");
  EXPECT_EQ(rows[0][10], "REGRESSED");
  EXPECT_NE(dom.find("class=\"tag bad\" data-verdict=\"REGRESSED\""), std::string::npos);

  const std::string artifacts = std::string(LLMBENCH_REPORT_ARTIFACTS_DIR) + "-diff";
  std::error_code ec;
  std::filesystem::remove_all(artifacts, ec);
  std::filesystem::create_directories(artifacts);
  BrowserRun shot = RunChromium("file://" + page,
                                {"--screenshot=" + artifacts + "/diff.png", "--hide-scrollbars"},
                                tmp_ + "/profile2");
  EXPECT_TRUE(shot.exit.exited && shot.exit.code == 0) << shot.stderr_text;
  EXPECT_GT(std::filesystem::file_size(artifacts + "/diff.png", ec), 10000u) << ec.message();
  std::filesystem::copy_file(page, artifacts + "/diff.html",
                            std::filesystem::copy_options::overwrite_existing, ec);
}

TEST_F(ReportBrowserTest, ReportCommandNamesAMissingFolder) {
  auto report = Subprocess::Start({LLMBENCH_CLI_BINARY, "report", tmp_ + "/nothing-here"});
  ASSERT_TRUE(report.ok()) << report.status();
  auto exit = (*report)->Wait(kRunTimeout);
  ASSERT_TRUE(exit.ok());
  EXPECT_NE(exit->code, 0);
  EXPECT_NE((*report)->Stderr().find(tmp_ + "/nothing-here/summary.json"), std::string::npos)
      << (*report)->Stderr();
}

}  // namespace
}  // namespace llmbench
