// llmbench report.html: builds the tables and uPlot charts from the JSON that
// coordinator/html_report.cc embeds in <script id="llmbench-data">. Inlined into the page at
// build time (coordinator/html_report_assets.cmake); no network, no modules.
//
// Every chart container gets data-points="N" (the non-null data points its series drew) once
// uPlot has drawn it, and <body> gets data-rendered="ok" and data-charts="N" at the end, so a
// headless browser test can check the page through the DOM.
(function () {
  'use strict';

  var T0 = performance.now();
  var DATA = JSON.parse(document.getElementById('llmbench-data').textContent);
  var S = DATA.summary || {};
  var R = DATA.requests || { has_requests: false };
  var D = DATA.derived || {};
  var COSTS = D.costs || [];   // engines with a price (coordinator/cost.h)
  var SWEEPS = D.sweeps || []; // capacity sweeps, points sorted by achieved rate
  var BANNER = DATA.banner || { tone: 'unknown', state: 'UNSPECIFIED', problems: [] };
  var TELEMETRY = (DATA.telemetry || {}).engines || [];  // client vs server from the buckets
  var COLORS = ['#2563eb', '#e11d48', '#059669', '#9333ea', '#ea580c', '#0891b2', '#ca8a04',
                '#db2777', '#4f46e5', '#65a30d'];
  var charts = [];

  // ----------------------------------------------------------------------------------------
  // Helpers.

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) {
      if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function num(v) {  // proto3 JSON: uint64 as strings, zero scalars absent
    if (v === undefined || v === null || v === '') return 0;
    return Number(v);
  }

  function fmt(v) {
    if (v === undefined || v === null || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 10000) return Math.round(v).toLocaleString('en-US');
    if (a >= 100) return v.toFixed(1);
    if (a >= 10) return v.toFixed(2);
    if (a >= 0.01) return v.toFixed(3);
    return v.toPrecision(2);
  }

  function money(v) {  // US dollars, as precise as a small per-request cost needs
    if (v === undefined || v === null || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a >= 10000) return '$' + Math.round(v).toLocaleString('en-US');
    if (a >= 1) return '$' + v.toFixed(2);
    if (a === 0) return '$0';
    return '$' + v.toPrecision(3);
  }

  function costOf(engine) {
    for (var i = 0; i < COSTS.length; i++) if (COSTS[i].engine === engine) return COSTS[i];
    return null;
  }

  function pct(v) { return (v === undefined || v === null) ? '–' : (100 * v).toFixed(1) + '%'; }

  function color(i) { return COLORS[i % COLORS.length]; }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  function section(id, title, intro) {
    var s = el('section', { id: id }, [el('h2', { text: title })]);
    if (intro) s.appendChild(el('p', { cls: 'intro', text: intro }));
    document.getElementById('app').appendChild(s);
    return s;
  }

  var NUMERIC = /^(–|[-+]?\$?[0-9][0-9,]*(\.[0-9]+)?(e[-+]?[0-9]+)?[%×]?)$/;

  function table(headers, rows, cls) {
    // A column is right-aligned (numbers) when every cell in it looks like a number.
    var numeric = headers.map(function (h, i) {
      return i > 0 && rows.length > 0 && rows.every(function (r) {
        return !(r[i] instanceof Node) && NUMERIC.test(String(r[i]));
      });
    });
    var thead = el('thead', null, [el('tr', null, headers.map(function (h, i) {
      return el('th', { text: h, cls: numeric[i] ? 'n' : '' });
    }))]);
    var tbody = el('tbody', null, rows.map(function (r) {
      return el('tr', null, r.map(function (c, i) {
        if (c instanceof Node) return el('td', null, [c]);
        return el('td', { text: String(c), cls: numeric[i] ? 'n' : '' });
      }));
    }));
    return el('div', { cls: 'table-wrap' }, [el('table', { cls: cls || '' }, [thead, tbody])]);
  }

  function engineNames() {
    var names = (S.engines || []).map(function (e) { return e.engine; });
    (R.engines || []).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    return names;
  }

  // ----------------------------------------------------------------------------------------
  // Charts.

  // A chart card in `grid`. spec: {title, caption, data (uPlot aligned data), series (uPlot
  // series without the x one), xLabel, yLabel, xTime, yMin0, scatter}.
  function chart(grid, spec) {
    var card = el('div', { cls: 'card chart-card' });
    card.appendChild(el('h3', { text: spec.title }));
    // data-y-label: uPlot draws axis labels on its canvas; the DOM keeps the y label too.
    var holder = el('div', { cls: 'chart', 'data-chart': spec.id, 'data-points': '0',
                             'data-y-label': spec.yLabel || '' });
    card.appendChild(holder);
    if (spec.caption) card.appendChild(el('p', { cls: 'caption', text: spec.caption }));
    grid.appendChild(card);
    var points = 0;
    for (var s = 1; s < spec.data.length; s++) {
      for (var i = 0; i < spec.data[s].length; i++) if (spec.data[s][i] != null) points++;
    }
    if (points === 0 || spec.data[0].length === 0) {
      holder.classList.add('empty');
      holder.appendChild(el('div', { cls: 'empty-note', text: spec.empty || 'No data' }));
      holder.setAttribute('data-empty', 'true');
      return;
    }
    var opts = {
      width: Math.max(300, holder.clientWidth || 560),
      height: 260,
      legend: { live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      scales: {
        x: spec.xRange ? { time: false, range: spec.xRange } : { time: false },
        y: spec.yRange ? { range: spec.yRange } : { range: function (u, min, max) {
          if (spec.yMin0 !== false) min = Math.min(0, min);
          if (min === max) max = min + 1;
          return [min, max + (max - min) * 0.05];
        } },
      },
      axes: [
        { label: spec.xLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' },
          ticks: { stroke: '#cbd5e1' }, labelSize: 22 },
        { label: spec.yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' },
          ticks: { stroke: '#cbd5e1' }, size: 60, labelSize: 22 },
      ],
      // Legends show values only while the cursor is on the chart; without it (a static view,
      // a printout) a series shows its summary when it has one, else nothing.
      series: [{ label: spec.xLabel, value: function (u, v, si, idx) {
        return idx == null ? '' : (v == null ? '–' : fmt(v));
      } }].concat(spec.series),
      hooks: {
        draw: [function (u) {
          var n = 0;
          for (var si = 1; si < u.series.length; si++) {
            if (!u.series[si].show) continue;
            var d = u.data[si];
            for (var j = 0; j < d.length; j++) if (d[j] != null) n++;
          }
          holder.setAttribute('data-points', String(n));
          holder.setAttribute('data-series', String(u.series.length - 1));
          if (spec.onDraw) spec.onDraw(u);
        }],
      },
    };
    var u = new uPlot(opts, spec.data, holder);
    charts.push({ u: u, holder: holder });
  }

  // A legend value: the value under the cursor, or `summary` (default nothing) without one.
  function legendValue(summary) {
    return function (u, v, si, idx) {
      if (idx == null) return summary || '';
      return v == null ? '–' : fmt(v);
    };
  }

  // extra.summary: what the legend shows while the cursor is off the chart.
  function lineSeries(label, i, extra) {
    var s = {
      label: label, stroke: color(i), width: 2, spanGaps: true,
      points: { size: 5 },  // uPlot shows them only where points are sparse
    };
    for (var k in (extra || {})) if (k !== 'summary') s[k] = extra[k];
    s.value = legendValue((extra || {}).summary);
    return s;
  }

  function scatterSeries(label, c, size) {
    return {
      label: label, stroke: c, fill: c, width: 0,
      paths: function () { return null; },
      points: { show: true, size: size || 3, stroke: c, fill: c, width: 0 },
      value: legendValue(''),
    };
  }

  // Aligns tables [[xs, ys...], ...] on the union of their x values (nulls elsewhere).
  function join(tables) {
    if (tables.length === 1) return tables[0];
    return uPlot.join(tables);
  }

  // ----------------------------------------------------------------------------------------
  // Page sections.

  function header() {
    var sc = S.scenario || {};
    var started = num(S.started_unix_ns) / 1e6;
    var finished = num(S.finished_unix_ns) / 1e6;
    var h = el('header', { cls: 'top' }, [
      el('div', { cls: 'brand', text: 'llmbench' }),
      el('h1', { text: sc.name ? sc.name : 'Benchmark report' }),
      el('div', { cls: 'meta' }, [
        el('span', { text: 'run ' + (S.run_id || '–') }),
        el('span', { text: started ? new Date(started).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '' }),
        el('span', { text: finished && started ? 'wall ' + fmt((finished - started) / 1000) + ' s' : '' }),
        el('span', { text: 'engines: ' + engineNames().join(', ') }),
        el('span', { text: 'llmbench ' + (S.llmbench_version || '?') }),
      ]),
    ]);
    // --label and --tag K=V (Scenario.label, Scenario.tags).
    var tags = sc.tags || {};
    var keys = Object.keys(tags).sort();
    if (sc.label || keys.length) {
      h.appendChild(el('div', { cls: 'meta tags', id: 'run-tags' }, [
        sc.label ? el('span', { cls: 'label', text: 'label: ' + sc.label }) : null,
      ].concat(keys.map(function (k) { return el('span', { cls: 'tag', text: k + '=' + tags[k] }); }))));
    }
    document.getElementById('app').appendChild(h);
  }

  // Prompt and output lengths (EngineResult.lengths, coordinator/prompt_lengths.h) and GPU
  // metrics from DCGM exporters (RunResult.gpu_metrics, coordinator/gpu_metrics.h).
  function lengthEngines() { return (S.engines || []).filter(function (e) { return e.lengths; }); }

  function lengthsSection() {
    var list = lengthEngines();
    if (!list.length) return;
    var s = section('lengths', 'Prompt and output lengths',
      'Requested input tokens (what each prompt was built and counted to: by the engine\'s tokenize route, a ' +
      'tokenizer.json or one token per word) against what the engine reported, over measured successful requests; ' +
      'and each request\'s max_tokens against the output tokens it got.');
    s.appendChild(table(['engine', 'counted by', 'prompts', 'adjusted', 'off target', 'compared', 'exact',
      'requested mean', 'mean error (tokens)', 'mean |error| %', 'max |error|', 'max_tokens mean', 'reached max'],
      list.map(function (e) {
        var l = e.lengths;
        var req = l.input_requested || {};
        var out = l.output_requested || {};
        var compared = num(l.input_compared);
        return [e.engine, (l.method || '–') + (l.source ? ' ' + l.source : ''), String(num(l.prompts)),
          String(num(l.prompts_adjusted)), String(num(l.prompts_off_target)), String(compared),
          compared ? num(l.input_exact) + ' (' + pct(num(l.input_exact) / compared) + ')' : '–',
          req.count ? fmt(num(req.mean)) : '–',
          l.input_mean_error != null ? fmt(num(l.input_mean_error)) : '–',
          l.input_mean_abs_error_pct != null ? fmt(num(l.input_mean_abs_error_pct)) : '–',
          l.input_max_abs_error != null ? fmt(num(l.input_max_abs_error)) : '–',
          out.count ? fmt(num(out.mean)) : '–',
          num(l.output_compared) ? num(l.output_reached) + ' of ' + num(l.output_compared) : '–'];
      }), 'lengths'));
    list.forEach(function (e) {
      (e.lengths.notes || []).forEach(function (n) {
        s.appendChild(el('p', { cls: 'note', text: e.engine + ': ' + n }));
      });
    });
  }

  // Trace replay (RunResult.trace, coordinator/trace_plan.h): the trace and its schedule.
  function traceSection() {
    var t = S.trace;
    if (!t) return;
    var s = section('trace', 'Trace replay',
      'Each request was sent at its trace time (from the first timestamp, less the window start) divided by ' +
      'the speed-up, from the run\'s start, on whichever worker held it; lateness is measured against that ' +
      'schedule like any open-loop run.');
    var span = fmt(num(t.start_seconds)) + ' s to ' + (t.end_seconds != null ? fmt(num(t.end_seconds)) + ' s' : 'end');
    s.appendChild(table(['file', 'format', 'entries', 'window', 'in window', 'speed-up', 'loop', 'requests',
      'repetitions', 'last send (s)', 'blocks (distinct / reused)', 'input mean', 'output mean'],
      [[t.file || '–', t.format || '–', String(num(t.file_entries)), span, String(num(t.window_entries)),
        '×' + fmt(num(t.speedup) || 1), t.loop ? 'every ' + fmt(num(t.period_seconds)) + ' s' : 'no',
        String(num(t.requests)), String(num(t.repetitions) || 1), fmt(num(t.schedule_seconds)),
        num(t.block_tokens) ? num(t.distinct_blocks) + ' / ' + num(t.reused_blocks) + ' of ' + num(t.block_tokens) + ' words' : '–',
        fmt(num(t.input_tokens_mean)), fmt(num(t.output_tokens_mean))]], 'trace'));
    if (num(t.reordered_entries)) {
      s.appendChild(el('p', { cls: 'note', text: num(t.reordered_entries) +
        ' entries were out of timestamp order in the file and were sorted.' }));
    }
  }

  // Multi-turn conversations (EngineResult.multi_turn, coordinator/turn_aggregate.h): session
  // totals, and per turn index the latency and the input the engine saw (the history grows).
  function turnEngines() { return (S.engines || []).filter(function (e) { return e.multi_turn; }); }

  function turnsSection() {
    var list = turnEngines();
    if (!list.length) return;
    var s = section('turns', 'Multi-turn conversations',
      'Each session sends its turns in order, every turn with the whole conversation so far (earlier user turns and the ' +
      'engine\'s actual replies). Per turn index: measured turns, TTFT, ITL and E2E, and the input tokens the engine ' +
      'reported (which grow with the history). Sessions: completed (every turn succeeded), failed (a turn failed and ' +
      'ended it), interrupted (cut by the duration bound, a stop or a lost worker).');
    s.appendChild(table(['engine', 'load unit', 'sessions started', 'completed', 'failed', 'interrupted',
      'session duration p50 (ms)', 'turns per session (mean)'], list.map(function (e) {
      var m = e.multi_turn;
      var d = m.session_duration_ms || {};
      var t = m.turns_per_session || {};
      return [e.engine, m.load_unit || 'sessions', String(num(m.sessions_started)), String(num(m.sessions_completed)),
        String(num(m.sessions_failed)), String(num(m.sessions_interrupted)), d.count ? fmt(num(d.p50)) : '–',
        t.count ? fmt(num(t.mean)) : '–'];
    }), 'turn-sessions'));
    var rows = [];
    list.forEach(function (e) {
      (e.multi_turn.turns || []).forEach(function (t) {
        function p(d, k) { return d ? fmt(num(d[k])) : '–'; }
        rows.push([e.engine, String(num(t.turn_index)), String(num(t.requests)), String(num(t.successes)),
          p(t.input_tokens, 'p50'), p(t.ttft_ms, 'p50'), p(t.ttft_ms, 'p90'), p(t.ttft_ms, 'p99'),
          p(t.itl_ms, 'p50'), p(t.e2e_ms, 'p50'), p(t.e2e_ms, 'p99')]);
      });
    });
    s.appendChild(table(['engine', 'turn', 'requests', 'ok', 'input tokens p50', 'TTFT p50 (ms)', 'TTFT p90 (ms)',
      'TTFT p99 (ms)', 'ITL p50 (ms)', 'E2E p50 (ms)', 'E2E p99 (ms)'], rows, 'turns'));
    var grid = el('div', { cls: 'grid2' });
    s.appendChild(grid);
    var withTtft = [];
    list.forEach(function (e) {
      var turns = (e.multi_turn.turns || []).filter(function (t) { return t.ttft_ms; });
      if (!turns.length) return;
      var x = turns.map(function (t) { return num(t.turn_index); });
      withTtft.push({ name: e.engine + ' p50', x: x, y: turns.map(function (t) { return num(t.ttft_ms.p50); }) });
      withTtft.push({ name: e.engine + ' p99', x: x, y: turns.map(function (t) { return num(t.ttft_ms.p99); }) });
    });
    if (withTtft.length) {
      chart(grid, { id: 'turn-ttft', title: 'TTFT by turn index', xLabel: 'turn index (0 = first)', yLabel: 'ms',
        data: join(withTtft.map(function (l) { return [l.x, l.y]; })),
        series: withTtft.map(function (l, i) { return lineSeries(l.name, i); }) });
    }
    var withInput = [];
    list.forEach(function (e) {
      var turns = (e.multi_turn.turns || []).filter(function (t) { return t.input_tokens; });
      if (!turns.length) return;
      withInput.push({ name: e.engine, x: turns.map(function (t) { return num(t.turn_index); }),
        y: turns.map(function (t) { return num(t.input_tokens.p50); }) });
    });
    if (withInput.length) {
      chart(grid, { id: 'turn-input', title: 'Input tokens by turn index (p50)', xLabel: 'turn index (0 = first)',
        yLabel: 'tokens', data: join(withInput.map(function (l) { return [l.x, l.y]; })),
        series: withInput.map(function (l, i) { return lineSeries(l.name, i); }) });
    }
  }

  function gpuMetricsSection() {
    var exporters = S.gpu_metrics || [];
    if (!exporters.length) return;
    var s = section('gpu-metrics', 'GPU metrics (DCGM)',
      'NVIDIA DCGM exporters scraped during the run (--gpu-metrics): per GPU, each metric\'s mean and max over the scrapes.');
    var rows = [];
    var lines = { gpu_util_pct: [], fb_used_mib: [], power_w: [] };
    exporters.forEach(function (x) {
      (x.gpus || []).forEach(function (g) {
        var m = {};
        (g.metrics || []).forEach(function (q) { m[q.name] = q; });
        function mm(name) { return m[name] ? fmt(num(m[name].mean)) + ' / ' + fmt(num(m[name].max)) : '–'; }
        var name = (g.hostname ? g.hostname + ' ' : '') + 'GPU ' + (g.gpu || '?') + (g.model_name ? ' ' + g.model_name : '');
        rows.push([name, x.url, String(num(x.scrapes)) + (num(x.scrape_errors) ? ' (' + num(x.scrape_errors) + ' failed)' : ''),
          mm('gpu_util_pct'), mm('fb_used_mib'), mm('power_w'), mm('gpu_temp_c'), mm('sm_clock_mhz'),
          m.energy_j ? fmt(num(m.energy_j.max)) : '–']);
        Object.keys(lines).forEach(function (k) { if (m[k]) lines[k].push({ name: name, q: m[k] }); });
      });
      (x.notes || []).forEach(function (n) { s.appendChild(el('p', { cls: 'note', text: x.url + ': ' + n })); });
    });
    s.appendChild(table(['GPU', 'exporter', 'scrapes', 'util % mean / max', 'memory used MiB mean / max',
      'power W mean / max', 'temp °C mean / max', 'SM clock MHz mean / max', 'energy J'], rows, 'gpu-metrics'));
    var grid = el('div', { cls: 'grid2' });
    s.appendChild(grid);
    [['gpu_util_pct', 'GPU utilization', '%'], ['fb_used_mib', 'GPU memory used', 'MiB'],
     ['power_w', 'GPU power', 'W']].forEach(function (c) {
      var list = lines[c[0]];
      if (!list.length) return;
      chart(grid, { id: 'gpu-' + c[0], title: c[1], xLabel: 'time since first scrape (s)', yLabel: c[2],
        data: join(list.map(function (l) { return [l.q.t_s.map(Number), l.q.values.map(Number)]; })),
        series: list.map(function (l, i) { return lineSeries(l.name, i); }) });
    });
  }

  // The banner follows DATA.banner (coordinator/html_report.h, VerdictBannerJson): green only
  // for a VALID run that exited 0 with nothing crossed, amber for DEGRADED, red for INVALID,
  // ENGINE_DOWN, INTERRUPTED, a crossed threshold, a non-zero exit status or no success; grey
  // when the file cannot tell. What went wrong and the success rate are in large text.
  function verdict() {
    var v = S.verdict || {};
    var b = BANNER;
    var state = b.state || 'UNSPECIFIED';
    var explain = {
      VALID: 'The load generator kept up: these latencies describe the engine.',
      DEGRADED: 'A worker failed or dropped records; the numbers cover what was measured.',
      INVALID: 'The load generator fell behind: these latencies describe the client, not the engine.',
      ENGINE_DOWN: 'The engine was unreachable: its run was stopped early; what was measured is kept.',
      INTERRUPTED: 'Stopped by a signal before the workload finished: the numbers are partial.',
      UNSPECIFIED: 'No verdict recorded.',
    };
    var rate = b.success_rate;
    var success = null;
    if (rate != null && rate < 1) {
      var failed = num(b.requests) - num(b.successes);
      success = el('div', { cls: 'verdict-success', id: 'verdict-success' }, [
        pct(rate) + ' of ' + num(b.requests).toLocaleString('en-US') + ' requests succeeded (' +
        failed.toLocaleString('en-US') + ' failed)' +
        ((b.engines_below || []).length ? ' — ' + b.engines_below.map(function (e) {
          return e.engine + ' ' + pct(e.success_rate);
        }).join(', ') : ''),
      ]);
    }
    var exitText = b.exit_status == null ? (b.note || 'exit status not recorded')
      : 'exit status ' + b.exit_status + (b.exit_reason ? ' (' + b.exit_reason + ')' : '');
    var box = el('div', { cls: 'verdict verdict-' + b.tone, id: 'verdict', 'data-state': state,
                          'data-tone': b.tone,
                          'data-exit-status': b.exit_status == null ? 'unknown' : String(b.exit_status) }, [
      el('div', { cls: 'verdict-state', text: state.replace('_', ' ') }),
      el('div', { cls: 'verdict-body' }, [
        (b.problems && b.problems.length) ? el('ul', { cls: 'verdict-problems' },
          b.problems.map(function (r) { return el('li', { text: r }); })) : null,
        success,
        el('div', { cls: 'verdict-explain', text: explain[state] || '' }),
        (state === 'VALID' && v.reasons && v.reasons.length) ? el('ul', null, v.reasons.map(function (r) {
          return el('li', { text: r });
        })) : null,
        (v.warnings && v.warnings.length) ? el('ul', { cls: 'verdict-warnings' },
          v.warnings.map(function (w) { return el('li', { text: 'warning: ' + w }); })) : null,
        el('div', { cls: 'verdict-exit', text: exitText }),
      ]),
    ]);
    document.getElementById('app').appendChild(box);
  }

  function kpis() {
    var o = S.overall || {};
    // A capacity sweep records no run-wide aggregates; one engine's knee probe stands in.
    if (!num(o.requests) && (S.engines || []).length === 1) o = S.engines[0].aggregates || {};
    function d(name, p) { return o[name] ? o[name][p] : null; }
    var items = [
      ['Requests', num(o.requests).toLocaleString('en-US'), pct(num(o.success_rate)) + ' success'],
      ['Throughput', fmt(num(o.request_throughput)) + ' req/s', fmt(num(o.output_token_throughput)) + ' output tok/s'],
      ['TTFT p50 / p99', fmt(d('ttft_ms', 'p50')) + ' / ' + fmt(d('ttft_ms', 'p99')), 'ms'],
      ['ITL p50 / p99', fmt(d('itl_ms', 'p50')) + ' / ' + fmt(d('itl_ms', 'p99')), 'ms'],
      ['TPOT p50', fmt(d('tpot_ms', 'p50')), 'ms'],
      ['E2E p50 / p99', fmt(d('e2e_ms', 'p50')) + ' / ' + fmt(d('e2e_ms', 'p99')), 'ms'],
    ];
    if (o.goodput !== undefined) items.push(['Goodput', fmt(o.goodput) + ' req/s', pct(o.slo_attainment) + ' meet the SLOs']);
    if (COSTS.length) {
      var cheap = COSTS.slice().sort(function (a, b) {
        return (a.per_million_output_tokens == null ? Infinity : a.per_million_output_tokens) -
               (b.per_million_output_tokens == null ? Infinity : b.per_million_output_tokens);
      })[0];
      items.push(['$ / 1M out tok', money(cheap.per_million_output_tokens),
        (COSTS.length > 1 ? 'cheapest: ' + cheap.engine + ', ' : '') + money(cheap.price_per_hour) + '/h']);
    }
    SWEEPS.forEach(function (sw) {
      items.push(['Max sustainable' + (SWEEPS.length > 1 ? ' · ' + sw.engine : ''),
        sw.knee_rps != null ? fmt(sw.knee_rps) + ' req/s' : 'none',
        sw.knee_rps != null ? 'capacity sweep knee' : (sw.note || 'no probe passed')]);
    });
    var belowFull = num(o.requests) > 0 && num(o.success_rate) < 1;
    document.getElementById('app').appendChild(el('div', { cls: 'kpis' }, items.map(function (it, k) {
      var alert = k === 0 && belowFull;  // the success rate, shown large when below 100%
      return el('div', { cls: 'kpi' + (alert ? ' kpi-alert' : '') }, [el('div', { cls: 'kpi-label', text: it[0] }),
        el('div', { cls: 'kpi-value', text: it[1] }), el('div', { cls: alert ? 'kpi-sub kpi-bad' : 'kpi-sub', text: it[2] })]);
    })));
  }

  function aggregateRow(name, a) {
    a = a || {};
    function p(m, q) { return a[m] ? fmt(a[m][q]) : '–'; }
    return [name, num(a.requests).toLocaleString('en-US'), pct(num(a.success_rate)),
      fmt(num(a.request_throughput)), fmt(num(a.output_token_throughput)),
      p('ttft_ms', 'p50'), p('ttft_ms', 'p99'), p('itl_ms', 'p50'), p('itl_ms', 'p99'),
      p('tpot_ms', 'p50'), p('e2e_ms', 'p50'), p('e2e_ms', 'p99'),
      fmt(num(a.mean_concurrency)), a.goodput !== undefined ? fmt(a.goodput) : '–'];
  }
  var AGG_HEADERS = ['', 'requests', 'success', 'req/s', 'out tok/s', 'TTFT p50', 'TTFT p99',
    'ITL p50', 'ITL p99', 'TPOT p50', 'E2E p50', 'E2E p99', 'concurrency', 'goodput'];

  function summaryTables() {
    var s = section('summary', 'Summary',
      'Measured requests (warm-up excluded). Latencies in ms, percentiles exact (R-7); rates over each group\'s measured window.');
    var withCost = COSTS.length > 0;
    var rows = (S.engines || []).map(function (e) {
      var row = aggregateRow(e.engine, e.aggregates);
      if (withCost) {
        var c = costOf(e.engine) || {};
        row.push(money(c.per_million_output_tokens), money(c.per_million_total_tokens),
          money(c.per_request != null ? 1000 * c.per_request : null));
      }
      return row;
    });
    if ((S.engines || []).length !== 1) {
      var all = aggregateRow('all', S.overall);
      if (withCost) all.push('–', '–', '–');
      rows.push(all);
    }
    s.appendChild(el('h3', { text: 'Per engine' }));
    s.appendChild(table(withCost ? AGG_HEADERS.concat(['$/1M out', '$/1M tok', '$/1k req']) : AGG_HEADERS,
      rows, 'agg'));
    if (SWEEPS.length) {
      s.appendChild(el('p', { cls: 'caption', text: 'Capacity sweep: each engine\'s row is its knee probe (the highest sustained rate); every probe is in the Capacity sweep section.' }));
    }

    var workers = S.workers || [];
    if (workers.length) {
      s.appendChild(el('h3', { text: 'Per worker' }));
      s.appendChild(table(['worker', 'address', 'requests', 'success', 'req/s', 'TTFT p50',
        'E2E p99', 'lateness p99', 'CPU / core', 'dropped', 'status'],
        workers.map(function (w) {
          var a = w.aggregates || {};
          return [w.worker_id, w.address || '–', num(a.requests).toLocaleString('en-US'),
            pct(num(a.success_rate)), fmt(num(a.request_throughput)),
            a.ttft_ms ? fmt(a.ttft_ms.p50) : '–', a.e2e_ms ? fmt(a.e2e_ms.p99) : '–',
            a.schedule_lateness_ms ? fmt(a.schedule_lateness_ms.p99) : '–',
            w.cpu_utilization !== undefined ? pct(w.cpu_utilization) : '–',
            num(w.records_dropped), w.failed ? workerFailure(w) : 'ok'];
        })));
    }

    var errRows = [];
    (S.engines || []).forEach(function (e) {
      ((e.aggregates || {}).errors || []).forEach(function (x) {
        errRows.push([e.engine, x.error_class, num(x.count).toLocaleString('en-US'), x.example_message || '']);
      });
    });
    s.appendChild(el('h3', { text: 'Errors' }));
    if (errRows.length) {
      s.appendChild(table(['engine', 'class', 'count', 'example message'], errRows, 'errors'));
    } else {
      s.appendChild(el('p', { cls: 'ok-note', text: 'No failed requests.' }));
    }
  }

  function costSection() {
    if (!COSTS.length) return;
    var s = section('cost', 'Cost',
      'What the measured throughput costs at each engine\'s price per hour (the whole deployment): price / 3600 / throughput. ' +
      'Lower is better' + (COSTS.length > 1 ? '; "vs cheapest" compares the cost per million output tokens.' : '.'));
    var headers = ['engine', 'price / hour', 'GPUs', 'out tok/s', 'req/s', '$ / 1M output tokens',
      '$ / 1M tokens (in + out)', '$ / request'];
    if (COSTS.length > 1) headers.push('vs cheapest');
    var byEngine = {};
    (S.engines || []).forEach(function (e) { byEngine[e.engine] = e.aggregates || {}; });
    s.appendChild(table(headers, COSTS.map(function (c) {
      var a = byEngine[c.engine] || {};
      var row = [c.engine, money(c.price_per_hour), c.gpu_count != null ? String(c.gpu_count) : '–',
        fmt(num(a.output_token_throughput)), fmt(num(a.request_throughput)),
        money(c.per_million_output_tokens), money(c.per_million_total_tokens), money(c.per_request)];
      if (COSTS.length > 1) row.push(c.output_vs_cheapest != null ? c.output_vs_cheapest.toFixed(2) + '×' : '–');
      return row;
    }), 'cost'));
    if (COSTS.length > 1) {
      var max = 0;
      COSTS.forEach(function (c) { if (c.per_million_output_tokens > max) max = c.per_million_output_tokens; });
      s.appendChild(el('div', { cls: 'card bars' }, COSTS.map(function (c, i) {
        var v = c.per_million_output_tokens;
        var w = v != null && max > 0 ? Math.max(1, 100 * v / max) : 0;
        return el('div', { cls: 'bar-row' }, [
          el('div', { cls: 'bar-label', text: c.engine }),
          el('div', { cls: 'bar-track' }, [el('div', { cls: 'bar', style: 'width:' + w.toFixed(1) + '%;background:' + color(i) })]),
          el('div', { cls: 'bar-value', text: money(v) + ' / 1M output tokens' }),
        ]);
      })));
    }
  }

  function sweepSection() {
    if (!SWEEPS.length) return;
    var s = section('sweep', 'Capacity sweep',
      'Open-loop probes at rising offered rates (step, then bisect between the last good and the first bad rate). ' +
      'Each point is one probe: achieved throughput against its latency percentiles. Green probes were sustained, red ones failed ' +
      '(errors, throughput below the offered rate, SLO attainment or a sharp latency turn); the knee is the highest sustained offered rate.');
    var probes = (S.sweeps || []);
    SWEEPS.forEach(function (sw, si) {
      var n = sw.achieved_rps.length;
      s.appendChild(el('h3', { cls: 'metric-title', text: sw.engine + ' — ' +
        (sw.knee_rps != null ? 'max sustainable ' + fmt(sw.knee_rps) + ' req/s offered' : 'no sustained rate') +
        (sw.first_bad_rps != null ? ', first failing ' + fmt(sw.first_bad_rps) + ' req/s' : '') +
        (sw.note ? ' (' + sw.note + ')' : '') }));
      var grid = el('div', { cls: 'grid-sweep' });
      s.appendChild(grid);
      var goodY = [], badY = [], kneeY = [];
      for (var i = 0; i < n; i++) {
        var y = sw.e2e_p99_ms[i] != null ? sw.e2e_p99_ms[i] : sw.ttft_p99_ms[i];
        goodY.push(sw.good[i] ? y : null);
        badY.push(sw.good[i] ? null : y);
        kneeY.push(i === sw.knee_index ? y : null);
      }
      var kneeX = sw.knee_index >= 0 ? sw.achieved_rps[sw.knee_index] : null;
      var maxX = 0;
      sw.achieved_rps.forEach(function (x) { if (x > maxX) maxX = x; });
      var series = [
        lineSeries('E2E p50', 0, { width: 2 }),
        lineSeries('E2E p99', 0, { width: 1.5, dash: [6, 4] }),
        lineSeries('TTFT p50', 3, { width: 2 }),
        lineSeries('TTFT p99', 3, { width: 1.5, dash: [6, 4] }),
        scatterSeries('sustained', '#16a34a', 9),
        scatterSeries('failed', '#dc2626', 9),
        { label: 'knee', stroke: '#0f172a', width: 0, paths: function () { return null; },
          points: { show: true, size: 16, stroke: '#0f172a', fill: 'rgba(0,0,0,0)', width: 2.5 },
          value: legendValue('') },
      ];
      chart(grid, {
        id: 'sweep-' + si, title: 'Throughput vs latency — ' + sw.engine,
        xLabel: 'achieved throughput (req/s)', yLabel: 'latency (ms)',
        data: [sw.achieved_rps, sw.e2e_p50_ms, sw.e2e_p99_ms, sw.ttft_p50_ms, sw.ttft_p99_ms, goodY, badY, kneeY],
        series: series,
        xRange: function (u, min, max) { return [0, (max > 0 ? max : 1) * 1.08]; },
        caption: 'Markers sit on each probe\'s E2E p99.' + (kneeX != null ? ' Dashed line: the knee at ' + fmt(kneeX) + ' req/s achieved.' : '') +
          ' Probes without a successful request have no latency and appear only in the table.',
        empty: 'No probe measured a latency',
        onDraw: function (u) {
          if (kneeX == null) return;
          var cx = u.valToPos(kneeX, 'x', true);
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = 'rgba(15,23,42,0.55)';
          ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
          ctx.setLineDash([5, 4]);
          ctx.beginPath();
          ctx.moveTo(cx, u.bbox.top);
          ctx.lineTo(cx, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = '#0f172a';
          ctx.font = (11 * (window.devicePixelRatio || 1)) + 'px system-ui, sans-serif';
          ctx.fillText('knee ' + fmt(sw.knee_rps) + ' req/s', cx + 5, u.bbox.top + 14 * (window.devicePixelRatio || 1));
          ctx.restore();
        },
      });
      // The probes in the order they ran, from summary.json.
      var pts = (probes[si] || {}).points || [];
      var kneeRps = (probes[si] || {}).knee_rps;  // exact, as summary.json has it
      var kneeMarked = false;
      var rows = pts.map(function (p, k) {
        var knee = !!p.good && !kneeMarked && kneeRps !== undefined && num(p.offered_rps) === num(kneeRps);
        if (knee) kneeMarked = true;
        var res = el('span', { cls: p.good ? 'tag good' : 'tag bad', text: p.good ? (knee ? 'good · knee' : 'good') : 'bad' });
        var why = p.good ? '' : (p.reason || '');
        var folder = (p.out_dir || '').split('/').filter(function (x) { return x; });
        return [String(k), p.phase || '–', fmt(num(p.offered_rps)), fmt(num(p.achieved_rps)),
          fmt(p.ttft_p50_ms), fmt(p.ttft_p99_ms), fmt(p.e2e_p50_ms), fmt(p.e2e_p99_ms),
          p.slo_attainment !== undefined ? pct(p.slo_attainment) : '–', pct(num(p.error_rate)),
          num(p.requests).toLocaleString('en-US'), res, why,
          folder.length >= 2 ? el('a', { href: folder.slice(-2).join('/') + '/report.html', title: p.out_dir, text: folder[folder.length - 1].replace(/-[0-9.]+rps$/, '') }) : '–'];
      });
      grid.appendChild(table(['#', 'phase', 'offered req/s', 'achieved req/s', 'TTFT p50', 'TTFT p99',
        'E2E p50', 'E2E p99', 'SLO met', 'errors', 'requests', 'result', 'why not', 'probe report'], rows, 'sweep'));
      if ((probes[si] || {}).judged_on) {
        grid.appendChild(el('p', { cls: 'caption sweep-judged-on', text: 'Each probe judged on: ' + probes[si].judged_on +
          '. Achieved req/s = successes / the whole window, drain included (summary.json has each probe\'s sustained_rps).' }));
      }
    });
  }

  // [key, short name, title, what one value is]
  var METRICS = [
    ['ttft_ms', 'TTFT', 'Time to first token', 'requests'],
    ['itl_ms', 'ITL', 'Inter-token latency (pooled gaps)', 'gaps'],
    ['tpot_ms', 'TPOT', 'Time per output token', 'requests'],
    ['e2e_ms', 'E2E', 'End-to-end latency', 'requests'],
  ];

  function aggregatesOf(engine) {
    var found = (S.engines || []).filter(function (e) { return e.engine === engine; })[0];
    return found ? found.aggregates || {} : {};
  }

  // The legend's summary of a CDF line: the exact percentiles from summary.json.
  function cdfSummary(engine, key) {
    var d = aggregatesOf(engine)[key];
    return d ? 'p50 ' + fmt(num(d.p50)) + ' · p99 ' + fmt(num(d.p99)) + ' ms' : '';
  }

  function distributions() {
    var names = R.has_requests ? R.engines : engineNames();
    var s = section('distributions', 'Latency distributions',
      R.has_requests
        ? 'From requests.csv: successful measured requests. A value is one request for TTFT, TPOT and E2E, and one gap between consecutive chunks for ITL (pooled over the requests, so n counts gaps). CDF: share of values at or below a latency. Histogram: share of values per bin (the slowest 0.5% may fall beyond the last bin; the caption says how many).'
        : 'requests.csv was not written for this run (outputs.csv: false): CDFs are drawn through the summary\'s percentiles.');
    METRICS.forEach(function (m) {
      var key = m[0];
      s.appendChild(el('h3', { cls: 'metric-title', text: m[1] + ' — ' + m[2] }));
      var grid = el('div', { cls: 'grid2' });
      s.appendChild(grid);
      var tables = [], series = [];
      if (R.has_requests) {
        var dist = R.dist[key];
        dist.engines.forEach(function (d, i) {
          if (!d.n) return;
          tables.push([d.cdf.x, d.cdf.p.map(function (p) { return 100 * p; })]);
          series.push(lineSeries(names[i] + ' (n=' + d.n.toLocaleString('en-US') +
            (m[3] === 'gaps' ? ' gaps' : '') + ')', i, { summary: cdfSummary(names[i], key) }));
        });
      } else {
        (S.engines || []).forEach(function (e, i) {
          var d = (e.aggregates || {})[key];
          if (!d) return;
          var qs = [[d.min, 0], [d.p50, 50], [d.p90, 90], [d.p95, 95], [d.p99, 99], [d.p999, 99.9], [d.max, 100]];
          tables.push([qs.map(function (q) { return num(q[0]); }), qs.map(function (q) { return q[1]; })]);
          series.push(lineSeries(e.engine, i, { summary: cdfSummary(e.engine, key) }));
        });
      }
      chart(grid, {
        id: key + '-cdf', title: m[1] + ' CDF', xLabel: m[1] + ' (ms)', yLabel: 'percentile',
        data: tables.length ? join(tables) : [[]], series: series, yRange: [0, 100],
        empty: 'No ' + m[1] + ' values (no successful streamed request)',
      });
      if (R.has_requests) {
        var h = R.dist[key].hist;
        var hdata = [[]], hseries = [], over = [];
        if (h) {
          hdata = [h.edges];
          h.counts.forEach(function (c, i) {
            var n = R.dist[key].engines[i].n;
            if (!n) return;
            var share = c.map(function (v) { return 100 * v / n; });
            share.push(share[share.length - 1]);
            hdata.push(share);
            hseries.push(lineSeries(names[i], i, {
              paths: uPlot.paths.stepped({ align: 1 }), fill: alpha(color(i), 0.18), width: 1.5,
              points: { show: false },
            }));
            if (h.overflow[i]) over.push(names[i] + ': ' + h.overflow[i].toLocaleString('en-US') + ' above ' + fmt(h.edges[h.edges.length - 1]) + ' ms');
          });
        }
        chart(grid, {
          id: key + '-hist', title: m[1] + ' histogram', xLabel: m[1] + ' (ms)', yLabel: '% of ' + m[3],
          data: hdata, series: hseries,
          caption: (m[3] === 'gaps' ? 'Each bin\'s share of all gaps between consecutive chunks (pooled over requests). ' : '') +
            (over.length ? 'Beyond the last bin: ' + over.join('; ') : ''),
          empty: 'No ' + m[1] + ' values',
        });
      }
      // Percentile table from summary.json (exact).
      var rows = (S.engines || []).map(function (e) {
        var d = (e.aggregates || {})[key];
        if (!d) return [e.engine, '0', '–', '–', '–', '–', '–', '–', '–', '–'];
        return [e.engine, num(d.count).toLocaleString('en-US'), fmt(num(d.mean)), fmt(num(d.min)), fmt(num(d.p50)),
          fmt(num(d.p90)), fmt(num(d.p95)), fmt(num(d.p99)), fmt(num(d.p999)), fmt(num(d.max))];
      });
      s.appendChild(table([m[1] + ' (ms)', 'count', 'mean', 'min', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max'], rows, 'pct'));
    });
  }

  function xs(n, w) {  // bucket centres
    var x = new Array(n);
    for (var i = 0; i < n; i++) x[i] = (i + 0.5) * w;
    return x;
  }

  // "FAILED 12.3 s into the run: WHY; 40 requests reassigned" (run time: the records' axis).
  function failedAtS(w) {
    var at = Number(w.failed_at_unix_ns || 0), origin = Number(S.time_axis_unix_ns || 0);
    return at > 0 && origin > 0 ? (at - origin) / 1e9 : null;
  }
  function workerFailure(w) {
    var t = failedAtS(w);
    return 'FAILED' + (t != null ? ' ' + fmt(t) + ' s into the run' : '') + ': ' + (w.failure || '') +
      (num(w.requests_reassigned) ? '; ' + num(w.requests_reassigned) + ' requests reassigned' : '') +
      (num(w.requests_lost) ? '; ' + num(w.requests_lost) + ' lost' : '');
  }

  function overTime() {
    var s = section('over-time', 'Over time',
      R.has_requests
        ? 'Each engine\'s clock starts at its first measured request (engines run one after another). Buckets of ' + R.bucket_s + ' s, drawn at their centres; rates per second. Latency points are successful requests at their send time' + scatterNote() + ', with per-bucket p50 and p99.'
        : 'requests.csv was not written for this run (outputs.csv: false): no per-request time series.');
    if (!R.has_requests) return;
    (S.workers || []).filter(function (w) { return w.failed; }).forEach(function (w) {
      s.appendChild(el('p', { cls: 'caption reassigned', text: 'Worker ' + w.worker_id + ' ' +
        workerFailure(w).replace(/^FAILED/, 'failed') + ' (reassigned requests ran after that, on the same time axis).' }));
    });
    var names = R.engines;
    var n = 0;
    R.time.forEach(function (t) { n = Math.max(n, t.concurrency.length); });
    var x = xs(n, R.bucket_s);
    var grid = el('div', { cls: 'grid2' });
    s.appendChild(grid);
    var multi = names.length > 1;

    [['ttft_ms', 'ttft_p50_ms', 'ttft_p99_ms', 'TTFT'], ['e2e_ms', 'e2e_p50_ms', 'e2e_p99_ms', 'E2E']].forEach(function (m) {
      var tables = [], series = [];
      R.time.forEach(function (t, i) {
        var sc = t.scatter;
        if (sc.x.length === 0) return;
        tables.push([sc.x, sc[m[0]]]);
        series.push(scatterSeries(multi ? names[i] + ' request' : 'request', alpha(color(i), 0.35), 3));
        tables.push([x.slice(0, t[m[1]].length), t[m[1]], t[m[2]]]);
        series.push(lineSeries((multi ? names[i] + ' ' : '') + 'p50', i, { width: 2 }));
        series.push(lineSeries((multi ? names[i] + ' ' : '') + 'p99', i, { width: 1.5, dash: [6, 4] }));
        if (m[0] === 'e2e_ms' && sc.fail_x.length) {
          tables.push([sc.fail_x, sc.fail_e2e_ms]);
          series.push(scatterSeries((multi ? names[i] + ' ' : '') + 'failed', '#dc2626', 4));
        }
      });
      chart(grid, { id: m[0] + '-time', title: m[3] + ' over time', xLabel: 'time (s)', yLabel: m[3] + ' (ms)',
        data: tables.length ? join(tables) : [[]], series: series, empty: 'No successful requests' });
    });

    function perEngine(id, title, key, yLabel) {
      var data = [x], series = [];
      R.time.forEach(function (t, i) { data.push(t[key]); series.push(lineSeries(names[i], i)); });
      chart(grid, { id: id, title: title, xLabel: 'time (s)', yLabel: yLabel, data: data, series: series });
    }
    perEngine('throughput-time', 'Completed requests per second', 'completions_per_s', 'req/s');
    perEngine('tokens-time', 'Output tokens per second', 'output_tokens_per_s', 'tokens/s');
    perEngine('concurrency-time', 'Requests in flight (time-averaged)', 'concurrency', 'in flight');

    // Errors: per engine total, plus per class when there are any.
    var data = [x], series = [], anyErrors = false;
    R.time.forEach(function (t, i) {
      var total = t.concurrency.map(function (c) { return c == null ? null : 0; });
      var classes = Object.keys(t.errors_per_s);
      classes.forEach(function (cls) {
        anyErrors = true;
        t.errors_per_s[cls].forEach(function (v, b) { if (v != null) total[b] += v; });
      });
      data.push(total);
      series.push(lineSeries((multi ? names[i] + ' ' : '') + 'all errors', i));
      if (classes.length > 1 || (multi && classes.length)) {
        classes.forEach(function (cls, k) {
          data.push(t.errors_per_s[cls]);
          // One engine: a colour per class; several: the engine's colour, a dash per class.
          series.push(multi
            ? lineSeries(names[i] + ' ' + cls, i, { dash: [4 + 2 * k, 3], width: 1.5 })
            : lineSeries(cls, k + 1, { width: 1.5 }));
        });
      } else if (classes.length === 1) {
        series[series.length - 1].label = (multi ? names[i] + ' ' : '') + classes[0];
      }
    });
    chart(grid, { id: 'errors-time', title: 'Errors per second', xLabel: 'time (s)', yLabel: 'errors/s',
      data: data, series: series, caption: anyErrors ? '' : 'No failed requests: the line stays at zero.' });
  }

  function scatterNote() {
    var k = 1;
    (R.time || []).forEach(function (t) { k = Math.max(k, t.scatter.stride); });
    return k > 1 ? ' (every ' + k + 'th request, to keep the page fast)' : '';
  }

  function perWorker() {
    if (!R.has_requests || !R.workers.length) return;
    var s = section('workers', 'Per worker',
      'Each worker\'s share of the load, on its engine\'s clock. A worker that lags or stalls shows here first.');
    var n = 0;
    R.time.forEach(function (t) { n = Math.max(n, t.concurrency.length); });
    var x = xs(n, R.bucket_s);
    var multi = R.engines.length > 1;
    var grid = el('div', { cls: 'grid2' });
    s.appendChild(grid);
    [['completions_per_s', 'Completed requests per second, per worker', 'req/s'],
     ['concurrency', 'Requests in flight, per worker', 'in flight']].forEach(function (m, k) {
      var data = [x], series = [];
      R.workers.forEach(function (w, i) {
        data.push(w[m[0]]);
        series.push(lineSeries(multi ? w.worker + ' · ' + w.engine : w.worker, i));
      });
      chart(grid, { id: 'worker-' + (k === 0 ? 'throughput' : 'concurrency'), title: m[1],
        xLabel: 'time (s)', yLabel: m[2], data: data, series: series });
    });
  }

  function scenario() {
    var s = section('scenario', 'Scenario');
    var text = DATA.scenario_yaml || JSON.stringify(S.scenario || {}, null, 2);
    s.appendChild(el('pre', { cls: 'scenario', text: text }));
  }

  function definitions() {
    var s = section('definitions', 'Metric definitions',
      'As in docs/metrics.md; recorded in summary.json with the run.');
    s.appendChild(table(['metric', 'unit', 'definition'], (S.definitions || []).map(function (d) {
      return [el('code', { text: d.name }), d.unit || '', d.definition || ''];
    }), 'defs'));
  }

  // ----------------------------------------------------------------------------------------
  // Engine telemetry (coordinator/engine_telemetry.h, docs/metrics.md "Engine telemetry"):
  // per engine, the client's measurements beside the engine's own over the same window.

  function telemetryEngines() {
    return (S.engines || []).filter(function (e) { return e.telemetry; });
  }

  function opt(v) {  // an optional proto field: absent is '–', never 0
    return v === undefined || v === null ? '–' : fmt(Number(v));
  }

  function telemetryOf(engine) {
    return TELEMETRY.filter(function (t) { return t.engine === engine; })[0] || { quantiles: {}, compare: {} };
  }

  // A server quantile estimated from histogram buckets, with the bucket it lies in: "30.0
  // (20–40)", "≤ 40" in the first bucket (anywhere from 0), "> 60000" in the +Inf bucket.
  function bucketEstimate(b) {
    if (!b) return '–';
    if (b.upper == null) return '> ' + fmt(b.lower);
    if (b.lower === 0) return '≤ ' + fmt(b.upper);
    return fmt(b.estimate) + ' (' + fmt(b.lower) + '–' + fmt(b.upper) + ')';
  }

  // client − server from the buckets: the difference and its bounds, or why there is none.
  function compareCell(c) {
    if (!c) return '–';
    if (c.diff == null) return el('span', { cls: 'coarse', text: c.why_not });
    return fmt(c.diff) + ' (' + fmt(c.min) + ' to ' + fmt(c.max) + ')';
  }

  function telemetrySection() {
    var engines = telemetryEngines();
    if (!engines.length) return;
    var s = section('client-vs-server', 'Client vs server',
      'What each engine said about itself (its Prometheus /metrics, or Ollama\'s /api/ps), scraped before, ' +
      'periodically during and after its run, beside what the client measured over the same window ' +
      '(warm-up included: the engine served those too). Server quantiles are estimated from histogram ' +
      'buckets as PromQL\'s histogram_quantile does and shown with the bucket they lie in (≤ X: anywhere in ' +
      'the first bucket). Client − server TTFT is the time spent outside the engine (network, HTTP, queueing in ' +
      'front of it). A difference is shown, with its bounds, only when the client\'s value lies at or above the ' +
      'server\'s whole bucket; when it falls inside the bucket the estimate is too coarse to compare.');
    engines.forEach(function (e, ei) {
      var t = e.telemetry;
      var card = el('div', { cls: 'card telemetry', 'data-engine': e.engine });
      s.appendChild(card);
      card.appendChild(el('h3', { text: e.engine + ' · ' + (t.dialect || 'unknown') + ' · ' +
        num(t.scrapes) + ' scrapes' + (num(t.scrape_errors) ? ', ' + num(t.scrape_errors) + ' failed' : '') +
        ' over ' + fmt(num(t.window_s)) + ' s (' + (t.url || '') + ')' }));
      var c = t.client_vs_server;
      var tq = telemetryOf(e.engine);
      if (c) {
        // Latencies: the server side with its bucket, the difference recomputed from the
        // buckets (a stored one from an older llmbench may be impossible, e.g. negative).
        var q = tq.quantiles || {}, cmp = tq.compare || {};
        var server = function (h, p, stored) { return q[h] && q[h][p] ? bucketEstimate(q[h][p]) : opt(stored); };
        var rows = [
          ['TTFT p50 (ms)', opt(c.client_ttft_p50_ms), server('ttft', 'p50', c.server_ttft_p50_ms), compareCell(cmp.ttft_p50)],
          ['TTFT p99 (ms)', opt(c.client_ttft_p99_ms), server('ttft', 'p99', c.server_ttft_p99_ms), compareCell(cmp.ttft_p99)],
          ['E2E p50 (ms)', opt(c.client_e2e_p50_ms), server('e2e', 'p50', c.server_e2e_p50_ms), compareCell(cmp.e2e_p50)],
          ['E2E p99 (ms)', opt(c.client_e2e_p99_ms), server('e2e', 'p99', c.server_e2e_p99_ms), compareCell(cmp.e2e_p99)],
          ['ITL p50 (ms)', opt(c.client_itl_p50_ms), server('itl', 'p50', c.server_itl_p50_ms), '–'],
          ['output tokens', opt(c.client_output_tokens), opt(c.server_generation_tokens), opt(c.output_tokens_diff)],
          ['input tokens', opt(c.client_input_tokens), opt(c.server_prompt_tokens), opt(c.input_tokens_diff)],
          ['successful requests', opt(num(c.client_successes)), opt(c.server_requests_success), '–'],
        ];
        card.appendChild(table(['metric', 'client', 'server', 'client − server'], rows, 'client-vs-server'));
      }
      var hists = [['TTFT', t.server_ttft, 'ttft'], ['ITL', t.server_itl, 'itl'], ['E2E', t.server_e2e, 'e2e'],
        ['queue', t.server_queue, 'queue'], ['inference', t.server_inference, 'inference']].filter(function (h) { return h[1]; });
      if (hists.length) {
        card.appendChild(table(['server histogram', 'metric', 'count', 'mean (ms, exact)', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)'],
          hists.map(function (h) {
            var v = h[1], b = (tq.quantiles || {})[h[2]] || {};
            var cell = function (p, stored) { return b[p] ? bucketEstimate(b[p]) : opt(stored); };
            return [h[0], el('code', { text: v.metric || '' }), opt(num(v.count)), opt(v.mean_ms),
              cell('p50', v.p50_ms), cell('p90', v.p90_ms), cell('p99', v.p99_ms)];
          }), 'server-histograms'));
      }
      if ((t.counters || []).length) {
        card.appendChild(table(['counter', 'metric', 'increase over the window'], t.counters.map(function (d) {
          return [d.name + (d.reset ? ' (reset)' : ''), el('code', { text: d.metric || '' }), opt(num(d.delta))];
        }), 'server-counters'));
      }
      var st = t.server_timings;
      if (st) {
        var timing = [['load (ms)', st.load_ms], ['prompt eval (ms)', st.prompt_eval_ms],
          ['prompt eval (tok/s)', st.prompt_eval_tokens_per_s], ['decode (tok/s)', st.decode_tokens_per_s],
          ['total (ms)', st.total_ms], ['queue (ms)', st.queue_ms], ['server TTFT (ms)', st.server_ttft_ms]]
          .filter(function (r) { return r[1]; });
        card.appendChild(table(['per-request server timing', 'requests', 'mean', 'p50', 'p90', 'p99', 'max'],
          timing.map(function (r) {
            var v = r[1];
            return [r[0], opt(num(v.count)), opt(num(v.mean)), opt(num(v.p50)), opt(num(v.p90)),
              opt(num(v.p99)), opt(num(v.max))];
          }), 'server-timings'));
      }
      var ps = t.ps_samples || [];
      if (ps.length) {
        var last = ps[ps.length - 1];
        card.appendChild(table(['loaded model (/api/ps, last of ' + ps.length + ' samples)', 'size (MiB)',
          'VRAM (MiB)', 'context'], (last.models || []).map(function (m) {
          return [m.name || '', fmt(num(m.size_bytes) / 1048576), fmt(num(m.size_vram_bytes) / 1048576),
            m.context_length != null ? String(m.context_length) : '–'];
        }), 'ollama-ps'));
      }
      var gauges = (t.gauges || []).filter(function (g) { return (g.t_s || []).length; });
      if (gauges.length) {
        var grid = el('div', { cls: 'grid2' });
        card.appendChild(grid);
        chart(grid, {
          id: 'telemetry-gauges-' + ei, title: e.engine + ': engine gauges',
          caption: 'Sampled at every scrape; seconds since the first scrape.',
          data: join(gauges.map(function (g) { return [g.t_s, g.values]; })),
          series: gauges.map(function (g, i) { return lineSeries(g.name, i); }),
          xLabel: 's', yLabel: 'value',
        });
      }
      if ((t.notes || []).length) {
        card.appendChild(el('ul', { cls: 'telemetry-notes' }, t.notes.map(function (n) {
          return el('li', { text: n });
        })));
      }
    });
  }

  // ----------------------------------------------------------------------------------------
  // Resources and monitors (coordinator/resources.h, docs/metrics.md "Resources and monitors"):
  // procfs samples of every worker's host and process, and host monitors with GPU samples.

  function resourceSources() {
    var out = [];
    (S.workers || []).forEach(function (w) {
      if (w.resources) out.push({ kind: 'worker', name: w.worker_id, r: w.resources });
    });
    (S.monitors || []).forEach(function (m) {
      out.push({ kind: 'monitor', name: m.address, r: m.resources || {}, error: m.error });
    });
    return out;
  }

  function resourcesSection() {
    var srcs = resourceSources();
    if (!srcs.length) return;
    var s = section('resources', 'Resources',
      'What the hardware did: each worker\'s host and process (procfs, about once a second) and each host monitor ' +
      '(llmbench-worker --monitor) with its GPUs (NVML). Host CPU: 100% = every core busy; process CPU: 100% = one core. ' +
      'A load host at >= 95% CPU for 3 samples in a row adds a warning to the verdict; it does not change the verdict\'s state ' +
      '(schedule lateness and the worker\'s own CPU decide whether the generator fell behind).');
    function stats(samples, key) {
      var v = samples.map(function (x) { return x[key]; }).filter(function (x) { return x != null; }).map(Number);
      if (!v.length) return ['–', '–'];
      var sum = 0, max = -Infinity;
      v.forEach(function (x) { sum += x; if (x > max) max = x; });
      return [fmt(sum / v.length), fmt(max)];
    }
    s.appendChild(table(['source', 'name', 'host', 'cores', 'samples', 'host CPU % mean', 'host CPU % max',
      'process CPU % mean', 'process CPU % max', 'RSS max (MiB)', 'GPUs'], srcs.map(function (x) {
      var sm = x.r.samples || [];
      var hc = stats(sm, 'host_cpu_percent'), pc = stats(sm, 'process_cpu_percent');
      var rss = 0;
      sm.forEach(function (v) { rss = Math.max(rss, num(v.process_rss_bytes)); });
      var gpus = (x.r.gpus || []).length ? x.r.gpus.map(function (g) { return g.name; }).join(', ')
        : (x.r.gpu_note || '–');
      var notes = [x.r.note, x.error].filter(function (n) { return n; });
      return [x.kind, x.name, x.r.hostname || '–', String(num(x.r.cores)), String(sm.length), hc[0], hc[1],
        pc[0], pc[1], sm.length ? fmt(rss / 1048576) : '–', gpus + (notes.length ? ' · ' + notes.join(' · ') : '')];
    }), 'resources'));
    var grid = el('div', { cls: 'grid2' });
    s.appendChild(grid);
    function seriesChart(id, title, yLabel, pick, list) {
      var tables = [], series = [];
      list.forEach(function (x, i) {
        var sm = x.r.samples || [];
        if (!sm.length) return;
        tables.push([sm.map(function (v) { return num(v.t_s); }), sm.map(function (v) {
          var y = pick(v);
          return y == null ? null : y;
        })]);
        series.push(lineSeries(x.kind + ' ' + x.name, i));
      });
      if (!tables.length) return;
      chart(grid, { id: id, title: title, xLabel: 'time since run start (s)', yLabel: yLabel,
        data: join(tables), series: series });
    }
    function n(v) { return v == null ? null : Number(v); }
    seriesChart('resources-host-cpu', 'Host CPU', '%', function (v) { return n(v.host_cpu_percent); }, srcs);
    seriesChart('resources-process-cpu', 'Process CPU (worker or monitor)', '% of one core',
      function (v) { return n(v.process_cpu_percent); }, srcs);
    seriesChart('resources-host-mem', 'Host memory used', 'GiB',
      function (v) { return num(v.host_mem_used_bytes) / 1073741824; }, srcs);
    seriesChart('resources-net', 'Network receive + transmit', 'MB/s', function (v) {
      return v.net_rx_bytes_per_s == null && v.net_tx_bytes_per_s == null ? null
        : (num(v.net_rx_bytes_per_s) + num(v.net_tx_bytes_per_s)) / 1e6;
    }, srcs);
    // GPUs: one line per (source, device).
    var gpuLines = [];
    srcs.forEach(function (x) {
      (x.r.gpus || []).forEach(function (g) {
        gpuLines.push({ kind: x.kind, name: x.name + ' GPU' + num(g.index) + ' ' + g.name,
          r: { samples: (x.r.samples || []).map(function (v) {
            var gs = (v.gpus || []).filter(function (q) { return num(q.index) === num(g.index); })[0] || {};
            gs = Object.assign({ t_s: v.t_s }, gs);
            return gs;
          }) } });
      });
    });
    if (gpuLines.length) {
      seriesChart('resources-gpu-util', 'GPU utilization', '%', function (v) { return n(v.util_percent); }, gpuLines);
      seriesChart('resources-gpu-mem', 'GPU memory used', 'GiB', function (v) {
        return v.mem_used_bytes == null ? null : num(v.mem_used_bytes) / 1073741824;
      }, gpuLines);
      seriesChart('resources-gpu-power', 'GPU power', 'W', function (v) { return n(v.power_w); }, gpuLines);
      seriesChart('resources-gpu-clock', 'GPU SM clock', 'MHz', function (v) { return n(v.sm_clock_mhz); }, gpuLines);
    }
  }

  function footer() {
    document.getElementById('app').appendChild(el('footer', null, [
      'Generated by llmbench ' + (S.llmbench_version || '?') + ' · charts: uPlot ' + DATA.uplot_version +
      ' (MIT), inlined · works offline · data: summary.json' + (R.has_requests ? ', requests.csv (' +
      num(R.rows).toLocaleString('en-US') + ' rows)' : ''),
    ]));
  }

  function nav() {
    var links = [['summary', 'Summary']];
    if (COSTS.length) links.push(['cost', 'Cost']);
    if (SWEEPS.length) links.push(['sweep', 'Capacity sweep']);
    if (telemetryEngines().length) links.push(['client-vs-server', 'Client vs server']);
    if (lengthEngines().length) links.push(['lengths', 'Lengths']);
    if (turnEngines().length) links.push(['turns', 'Turns']);
    if ((S.gpu_metrics || []).length) links.push(['gpu-metrics', 'GPU metrics']);
    links.push(['distributions', 'Distributions'], ['over-time', 'Over time']);
    if (R.has_requests && R.workers.length) links.push(['workers', 'Workers']);
    if (resourceSources().length) links.push(['resources', 'Resources']);
    links.push(['scenario', 'Scenario'], ['definitions', 'Definitions']);
    document.getElementById('app').appendChild(el('nav', null, links.map(function (l) {
      return el('a', { href: '#' + l[0], text: l[1] });
    })));
  }

  // ----------------------------------------------------------------------------------------
  // diff.html (`llmbench diff`, coordinator/diff.cc): DATA.diff instead of a run's summary.

  // " · label X · k=v k2=v2" of one side of a diff (--label, --tag).
  function runTags(run) {
    var keys = Object.keys(run.tags || {}).sort();
    return (run.label ? ' · label ' + run.label : '') +
      (keys.length ? ' · ' + keys.map(function (k) { return k + '=' + run.tags[k]; }).join(' ') : '');
  }

  function diffPage(d) {
    var app = document.getElementById('app');
    var base = d.base || {}, cand = d.candidate || {};
    app.appendChild(el('header', { cls: 'top' }, [
      el('div', { cls: 'brand', text: 'llmbench diff' }),
      el('h1', { text: 'Regression check' }),
      el('div', { cls: 'meta' }, [
        el('span', { text: 'base ' + (base.run_id || '–') + ' · ' + (base.started || '') + runTags(base) }),
        el('span', { text: 'candidate ' + (cand.run_id || '–') + ' · ' + (cand.started || '') + runTags(cand) }),
      ]),
    ]));
    var cls = { PASS: 'valid', REGRESSED: 'invalid' }[d.outcome] || 'degraded';
    var explain = {
      PASS: 'No metric regressed beyond its maximum regression.',
      REGRESSED: 'At least one metric is significantly worse than its maximum regression allows.',
      'NOTHING COMPARED': 'Nothing compared is not a pass: fix what is missing and compare again.',
    };
    app.appendChild(el('div', { cls: 'verdict verdict-' + cls, id: 'verdict', 'data-state': d.outcome }, [
      el('div', { cls: 'verdict-state', text: d.outcome }),
      el('div', { cls: 'verdict-body' }, [
        el('div', { text: explain[d.outcome] || '' }),
        el('ul', null, [el('li', { text: d.detail })]),
      ]),
    ]));

    var runs = section('runs', 'Runs compared');
    runs.appendChild(table(['', 'folder', 'run', 'started', 'wall', 'scenario', 'engines', 'llmbench'],
      [['base', base], ['candidate', cand]].map(function (x) {
        var r = x[1];
        return [x[0], r.dir || '–', r.run_id || '–', r.started || '–',
          r.wall_s != null ? fmt(r.wall_s) + ' s' : '–', r.scenario || '–',
          (r.engines || []).join(', ') || '–', r.llmbench_version || '–'];
      }), 'runs'));

    var s = section('metrics', 'Metrics', d.legend + '.');
    if ((d.rows || []).length) {
      var verdictCol = d.columns.length - 1;
      s.appendChild(table(d.columns, d.rows.map(function (r) {
        return r.map(function (c, i) {
          if (i === verdictCol) {
            var tag = { REGRESSED: 'tag bad', IMPROVED: 'tag good' }[c];
            return el('span', { cls: tag || 'tag', 'data-verdict': c, text: c });
          }
          return c === '-' ? '–' : c;
        });
      }), 'diff'));
    } else {
      s.appendChild(el('p', { cls: 'caption', text: 'No metric compared: ' + d.nothing_compared }));
    }
    if ((d.notes || []).length) {
      s.appendChild(el('ul', { cls: 'diff-notes' }, d.notes.map(function (n) {
        return el('li', { text: n });
      })));
    }

    (d.pairs || []).forEach(function (p, pi) {
      var ds = section('distributions-' + pi, 'Latency distributions — ' + p.label,
        p.dist ? 'Successful measured requests of each run (requests.csv). CDF: share of requests at or below a latency; base and candidate overlaid.'
               : 'No per-request values on one side (requests.csv missing or without this engine): no CDFs.');
      if (!p.dist) return;
      var grid = el('div', { cls: 'grid2' });
      ds.appendChild(grid);
      var sides = ['base ' + (base.run_id || ''), 'candidate ' + (cand.run_id || '')];
      METRICS.forEach(function (m) {
        var dist = p.dist[m[0]];
        var tables = [], series = [];
        dist.engines.forEach(function (e, i) {
          if (!e.n) return;
          tables.push([e.cdf.x, e.cdf.p.map(function (q) { return 100 * q; })]);
          series.push(lineSeries(sides[i] + ' (n=' + e.n.toLocaleString('en-US') + ')', i,
            i === 0 ? { dash: [6, 4] } : null));
        });
        chart(grid, {
          id: 'diff-' + pi + '-' + m[0] + '-cdf', title: m[1] + ' CDF — base vs candidate',
          xLabel: m[1] + ' (ms)', yLabel: 'percentile',
          data: tables.length ? join(tables) : [[]], series: series, yRange: [0, 100],
          empty: 'No ' + m[1] + ' values on ' + (tables.length ? 'one side' : 'either side'),
        });
      });
    });

    app.appendChild(el('footer', null, [
      'Generated by llmbench ' + (cand.llmbench_version || base.llmbench_version || '?') +
      ' diff · charts: uPlot ' + DATA.uplot_version + ' (MIT), inlined · works offline · data: both folders\' summary.json and requests.csv',
    ]));
  }

  var app = document.getElementById('app');
  app.textContent = '';
  if (DATA.diff) {
    document.title = 'llmbench diff · ' + (DATA.diff.base.run_id || '') + ' vs ' + (DATA.diff.candidate.run_id || '');
    diffPage(DATA.diff);
  } else {
    document.title = 'llmbench · ' + ((S.scenario || {}).name || '') + ' · ' + (S.run_id || '');
    header();
    verdict();
    nav();
    kpis();
    summaryTables();
    costSection();
    sweepSection();
    telemetrySection();
    lengthsSection();
    traceSection();
    turnsSection();
    gpuMetricsSection();
    distributions();
    overTime();
    perWorker();
    resourcesSection();
    scenario();
    definitions();
    footer();
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (c) {
        c.u.setSize({ width: Math.max(300, c.holder.clientWidth), height: 260 });
      });
    }, 100);
  });
  document.body.setAttribute('data-charts', String(document.querySelectorAll('.chart').length));
  document.body.setAttribute('data-render-ms', String(Math.round(performance.now() - T0)));
  document.body.setAttribute('data-rendered', 'ok');
})();
