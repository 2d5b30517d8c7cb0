#!/usr/bin/env python3
"""Checks the results of a run that scripts/container-test.sh made with containers.

Usage: check_container_run.py RESULTS_DIR --workers A,B,C --requests N --warmup W

RESULTS_DIR holds summary.json and requests.csv of one `llmbench run`. The checks:
- the verdict is VALID; overall N requests, all successful;
- summary.json lists exactly the workers given (by the address the coordinator dialled), none
  failed, each with work, all of it successful, nothing lost, reassigned or duplicated, and
  their requests add up to N;
- requests.csv has N + W rows (W warm-up), every request_id exactly once, no error, every row
  from one of those workers, and per worker as many measured rows as summary.json counts.
Prints one line saying what was found; on a failed check prints `FAIL: ...` lines to stderr and
exits 1.
"""
import argparse
import collections
import csv
import json
import os
import sys

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--workers", required=True, help="expected worker addresses, comma-separated")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    args = parser.parse_args()
    expected = sorted(args.workers.split(","))

    summary_path = os.path.join(args.results, "summary.json")
    csv_path = os.path.join(args.results, "requests.csv")
    for path in (summary_path, csv_path):
        if not os.path.isfile(path):
            print(f"FAIL: no {path}", file=sys.stderr)
            return 1
    with open(summary_path) as f:
        summary = json.load(f)

    state = summary.get("verdict", {}).get("state")
    check(state == "STATE_VALID",
          f"verdict is {state}, reasons {summary.get('verdict', {}).get('reasons')}")
    overall = summary.get("overall", {})
    check(int(overall.get("requests", 0)) == args.requests,
          f"overall requests {overall.get('requests')}, expected {args.requests}")
    check(int(overall.get("successes", 0)) == args.requests,
          f"overall successes {overall.get('successes')}, expected {args.requests}")

    workers = summary.get("workers", [])
    addresses = sorted(w.get("address", "") for w in workers)
    check(addresses == expected, f"workers reported {addresses}, expected {expected}")
    measured_by_id = {}
    total = 0
    for w in workers:
        name = f"worker {w.get('worker_id')} at {w.get('address')}"
        agg = w.get("aggregates", {})
        requests = int(agg.get("requests", 0))
        check(not w.get("failed", False), f"{name} failed: {w.get('failure')}")
        check(requests > 0, f"{name} had no work")
        check(requests == int(agg.get("successes", 0)), f"{name}: {agg.get('successes')} of "
              f"{requests} requests succeeded")
        for field in ("requests_lost", "requests_reassigned", "duplicate_records",
                      "records_dropped"):
            check(int(w.get(field, 0)) == 0, f"{name}: {field} = {w.get(field)}")
        measured_by_id[w.get("worker_id")] = requests
        total += requests
    check(total == args.requests, f"the workers' requests add up to {total}, not {args.requests}")
    check(len(measured_by_id) == len(workers), f"worker ids are not distinct: {list(measured_by_id)}")

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == args.requests + args.warmup,
          f"requests.csv has {len(rows)} rows, expected {args.requests} + {args.warmup} warm-up")
    ids = collections.Counter(r["request_id"] for r in rows)
    repeated = [i for i, n in ids.items() if n > 1]
    check(not repeated, f"request ids seen more than once: {repeated[:5]}")
    warmup = sum(1 for r in rows if r["warmup"] == "true")
    check(warmup == args.warmup, f"{warmup} warm-up rows, expected {args.warmup}")
    errors = collections.Counter(r["error_class"] for r in rows if r["error_class"] != "none")
    check(not errors, f"requests.csv has errors: {dict(errors)}")
    rows_by_id = collections.Counter(r["worker_id"] for r in rows if r["warmup"] != "true")
    strangers = set(r["worker_id"] for r in rows) - set(measured_by_id)
    check(not strangers, f"requests.csv rows from workers not in summary.json: {sorted(strangers)}")
    for worker_id, requests in measured_by_id.items():
        check(rows_by_id.get(worker_id, 0) == requests,
              f"requests.csv has {rows_by_id.get(worker_id, 0)} measured rows from {worker_id}, "
              f"summary.json {requests}")

    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 1
    per_worker = ", ".join(f"{w['address']}: {int(w['aggregates']['requests'])}"
                           for w in sorted(workers, key=lambda w: w["address"]))
    print(f"verdict VALID; {len(workers)} workers ({per_worker}); {args.requests} requests + "
          f"{args.warmup} warm-up, each request id once, all successful")
    return 0


if __name__ == "__main__":
    sys.exit(main())
