// The one reader of requests.csv, beside its writer (exporters.h: RequestsCsvHeader,
// AppendRequestCsvRow, RequestsCsvWriter). It turns rows back into RequestRecords so that
// every reader of stored results — `llmbench report DIR`, `llmbench diff` — computes from
// records, exactly as the live run did.
//
// Columns are found by their header names, which are the RequestRecord (and EngineTimings)
// field names: a column of a newer llmbench that this one does not know is ignored, a field
// without a column stays unset. Empty cells are absent optionals; chunk_offsets_ns is a
// ';'-separated list; error_class and output_token_source are the names the writer uses.
//
// Thread-compatible: one reader per stream.
#ifndef LLMBENCH_COORDINATOR_REQUESTS_CSV_H_
#define LLMBENCH_COORDINATOR_REQUESTS_CSV_H_

#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"

namespace llmbench::coordinator {

class RequestsCsvReader {
 public:
  // `source` names the input in errors ("results/x/requests.csv").
  RequestsCsvReader(std::istream* in, std::string source);
  ~RequestsCsvReader();
  RequestsCsvReader(const RequestsCsvReader&) = delete;
  RequestsCsvReader& operator=(const RequestsCsvReader&) = delete;

  // Reads the next row into `record` (cleared first). False at the end of the input.
  // InvalidArgument "SOURCE:LINE: ..." for a malformed file: no header, a missing required
  // column (engine, warmup, sent_ns, end_ns, error_class), a row of another width, a value
  // that does not parse (naming the column).
  absl::StatusOr<bool> Next(llmbench::v1::RequestRecord* record);

  // Rows read so far (warm-up included).
  uint64_t rows() const { return rows_; }

 private:
  struct Column;
  absl::Status ReadHeader();
  absl::StatusOr<bool> NextFields();

  std::istream* in_;
  const std::string source_;
  std::vector<Column> columns_;  // by position in the header
  size_t width_ = 0;
  bool header_read_ = false;
  std::vector<std::string> fields_;
  std::string record_, line_buffer_;
  int line_ = 0, record_line_ = 0;
  uint64_t rows_ = 0;
};

// Reads DIR/requests.csv, calling `on_record` for every row in order. NotFound naming the file
// when it is missing.
absl::Status ForEachStoredRequest(
    const std::string& dir,
    const std::function<void(const llmbench::v1::RequestRecord&)>& on_record);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_REQUESTS_CSV_H_
