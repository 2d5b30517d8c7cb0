#include "coordinator/request_samples.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "coordinator/exporters.h"

namespace llmbench::coordinator {
namespace {

// ---------------------------------------------------------------------------------------------
// requests.csv

// Splits RFC 4180 text into rows of fields; `line_of_row` gets each row's first line (1-based).
absl::StatusOr<std::vector<std::vector<std::string>>> SplitCsv(std::string_view text,
                                                               const std::string& source,
                                                               std::vector<size_t>* line_of_row) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  bool row_started = false;
  size_t line = 1;
  size_t row_line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!row_started) {
      row_started = true;
      row_line = line;
    }
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      fields.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(fields));
      fields.clear();
      line_of_row->push_back(row_line);
      row_started = false;
      ++line;
    } else {
      field.push_back(c);
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", row_line, ": unterminated quoted field"));
  }
  if (row_started) {
    fields.push_back(std::move(field));
    rows.push_back(std::move(fields));
    line_of_row->push_back(row_line);
  }
  return rows;
}

}  // namespace

absl::StatusOr<std::map<std::string, RequestSamples>> ParseRequestSamples(
    std::string_view csv, const std::string& source) {
  std::vector<size_t> lines;
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = SplitCsv(csv, source, &lines);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty (no header line)"));
  }
  const std::vector<std::string>& header = rows->front();
  auto column = [&](const std::string& name) -> absl::StatusOr<size_t> {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":1: no column \"", name, "\" (not a llmbench requests.csv)"));
    }
    return static_cast<size_t>(it - header.begin());
  };
  LLMBENCH_ASSIGN_OR_RETURN(size_t engine_col, column("engine"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t warmup_col, column("warmup"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t sent_col, column("sent_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t first_col, column("first_token_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t end_col, column("end_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t chunks_col, column("chunk_offsets_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t tokens_col, column("output_tokens"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t error_col, column("error_class"));

  std::map<std::string, RequestSamples> out;
  for (size_t r = 1; r < rows->size(); ++r) {
    const std::vector<std::string>& row = (*rows)[r];
    if (row.size() == 1 && row[0].empty()) continue;  // blank line
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", lines[r], ": ", what));
    };
    if (row.size() != header.size()) {
      return bad(absl::StrFormat("%d fields, the header has %d", row.size(), header.size()));
    }
    if (row[warmup_col] == "true" || row[error_col] != "none") continue;
    auto int_of = [&](size_t col, int64_t* v) {
      return absl::SimpleAtoi(row[col], v);
    };
    int64_t sent = 0, end = 0, tokens = 0;
    if (!int_of(sent_col, &sent) || !int_of(end_col, &end) || !int_of(tokens_col, &tokens)) {
      return bad("sent_ns, end_ns or output_tokens is not an integer");
    }
    RequestSamples& s = out[row[engine_col]];
    s.sent_ns.push_back(sent);
    s.end_ns.push_back(end);
    const double e2e_ms = static_cast<double>(end - sent) / 1e6;
    s.e2e_ms.push_back(e2e_ms);
    if (!row[first_col].empty()) {
      int64_t first = 0;
      if (!int_of(first_col, &first)) return bad("first_token_ns is not an integer");
      const double ttft_ms = static_cast<double>(first - sent) / 1e6;
      s.ttft_ms.push_back(ttft_ms);
      if (tokens >= 2) s.tpot_ms.push_back((e2e_ms - ttft_ms) / static_cast<double>(tokens - 1));
    }
    if (!row[chunks_col].empty()) {
      int64_t previous = 0;
      bool first_chunk = true;
      for (absl::string_view part : absl::StrSplit(row[chunks_col], ';')) {
        int64_t offset = 0;
        if (!absl::SimpleAtoi(part, &offset)) return bad("chunk_offsets_ns is not a list of integers");
        if (!first_chunk) s.itl_ms.push_back(static_cast<double>(offset - previous) / 1e6);
        previous = offset;
        first_chunk = false;
      }
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, RequestSamples>> LoadRequestSamples(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kRequestsFileName).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return ParseRequestSamples(contents.str(), path);
}

}  // namespace llmbench::coordinator
