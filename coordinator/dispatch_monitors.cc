#include "coordinator/dispatch_monitors.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "coordinator/resources.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

namespace {

// "monitor ADDR: <reason>" (WorkerClient says "worker ADDR: " first; drop that).
std::string MonitorError(const std::string& address, const std::string& message) {
  const std::string prefix = absl::StrCat("worker ", address, ": ");
  const size_t skip = message.rfind(prefix, 0) == 0 ? prefix.size() : 0;
  return absl::StrCat("monitor ", address, ": ", message.substr(skip));
}

}  // namespace

struct HostMonitors::Monitor {
  std::unique_ptr<WorkerClient> client;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool first_message ABSL_GUARDED_BY(mu) = false;
  bool ended ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
  v1::HostMonitor result ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::unique_ptr<HostMonitors>> HostMonitors::Start(
    const std::vector<std::string>& addresses, const WorkerClientSecurity& security,
    int64_t run_started_unix_ns, uint32_t interval_ms, int timeout_ms) {
  std::unique_ptr<HostMonitors> monitors(new HostMonitors());
  const Clock& clock = SteadyClock::Get();
  for (const std::string& address : addresses) {
    auto m = std::make_unique<Monitor>();
    m->client = std::make_unique<WorkerClient>(address, security);
    m->result.set_address(address);
    Monitor* raw = m.get();
    // The call's start on the run's clock: monitor t_s count from there.
    const double offset_s = static_cast<double>(clock.UnixNowNs() - run_started_unix_ns) / 1e9;
    raw->thread = std::thread([raw, offset_s, interval_ms] {
      absl::Status status = raw->client->Monitor(interval_ms, [&](const v1::ResourceSeries& s) {
        std::lock_guard<std::mutex> lock(raw->mu);
        AppendResources(s, offset_s, raw->result.mutable_resources());
        raw->first_message = true;
        raw->cv.notify_all();
      });
      std::lock_guard<std::mutex> lock(raw->mu);
      raw->ended = true;
      raw->status = status;
      if (!status.ok() && !raw->stopping) {
        raw->result.set_error(MonitorError(raw->result.address(), std::string(status.message())));
      }
      raw->cv.notify_all();
    });
    monitors->monitors_.push_back(std::move(m));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (const std::unique_ptr<Monitor>& m : monitors->monitors_) {
    std::unique_lock<std::mutex> lock(m->mu);
    const bool ready = m->cv.wait_until(lock, deadline, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu) {
      return m->first_message || m->ended;
    });
    if (m->first_message) continue;
    const std::string address = m->result.address();
    const std::string why =
        !ready ? absl::StrCat("no answer within ", timeout_ms, " ms")
               : (m->status.ok() ? std::string("the stream ended at once")
                                 : std::string(m->status.message()));
    lock.unlock();
    monitors->Stop();  // joins every thread
    return absl::UnavailableError(MonitorError(address, why));
  }
  return monitors;
}

HostMonitors::~HostMonitors() { Stop(); }

std::vector<v1::HostMonitor> HostMonitors::Stop() {
  for (const std::unique_ptr<Monitor>& m : monitors_) {
    {
      std::lock_guard<std::mutex> lock(m->mu);
      m->stopping = true;
    }
    m->client->Cancel();
  }
  std::vector<v1::HostMonitor> results;
  for (const std::unique_ptr<Monitor>& m : monitors_) {
    if (m->thread.joinable()) m->thread.join();
    std::lock_guard<std::mutex> lock(m->mu);
    results.push_back(m->result);
  }
  return results;
}

}  // namespace llmbench::coordinator
