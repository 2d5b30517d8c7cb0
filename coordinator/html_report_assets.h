// The web assets inlined into report.html: the uPlot charting library (from web/node_modules,
// see web/package.json for the pinned version) and the report's own JS and CSS (web/src/).
// Defined in a source generated at build time by coordinator/html_report_assets.cmake.
//
// Thread-safe: the views point at immutable static arrays.
#ifndef LLMBENCH_COORDINATOR_HTML_REPORT_ASSETS_H_
#define LLMBENCH_COORDINATOR_HTML_REPORT_ASSETS_H_

#include <string_view>

namespace llmbench::coordinator::report_assets {

std::string_view UplotJs();       // dist/uPlot.iife.min.js
std::string_view UplotCss();      // dist/uPlot.min.css
std::string_view UplotVersion();  // e.g. "1.6.32"
std::string_view ReportJs();      // web/src/report.js
std::string_view ReportCss();     // web/src/report.css

}  // namespace llmbench::coordinator::report_assets

#endif  // LLMBENCH_COORDINATOR_HTML_REPORT_ASSETS_H_
