// The pieces every CSV file the coordinator writes shares (requests.csv, engine_metrics.csv):
// RFC 4180 quoting of one field, and the text of a number.
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_CSV_H_
#define LLMBENCH_COORDINATOR_CSV_H_

#include <string>
#include <string_view>

namespace llmbench::coordinator {

// One RFC 4180 field: a field holding a comma, a double quote, CR or LF is enclosed in double
// quotes with inner quotes doubled; any other field is returned as it is.
std::string CsvField(std::string_view value);

// The shortest text that reads back as the same double; "NaN", "+Inf" or "-Inf" for the
// others. engine_metrics.csv writes its numbers so, and engine telemetry's notes quote
// scraped values the same way.
std::string ShortestNumber(double v);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CSV_H_
