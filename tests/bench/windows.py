#!/usr/bin/env python3
"""Pacing analysis of a vp-emulator --record file (one JSON line per request, "ts" in ms).

  windows.py RECORD_FILE [LEDGER_FILE]  ->  one JSON object on stdout:
  windows.py --vod RECORD_FILE          the same for the VOD reads of batchcut track
                                        (GET .../api/projects/{p}/videos/{id}) instead
    requests        stop-and-cut POSTs seen by the emulator
    span_s          first to last request, seconds
    achieved_rps    (requests - 1) / span_s: the rate between the first and the last request
    max_100ms       most requests received in any 100 ms window [t, t+100 ms)
    max_1s          most requests received in any 1 s window [t, t+1 s)
Windows slide over every millisecond (the record's resolution), so no window is missed.
With LEDGER_FILE (batchcut's ledger of the same run), the same figures for the client's side
under "client": the "ts" of its "dispatch" records, taken when a request got its token,
before the dispatch is made durable and the request is sent.
"""
import json
import sys
from datetime import datetime


def ms_of(ts):
    # "2026-11-26T13:03:23.655Z"
    dt = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(dt.timestamp() * 1000 + 0.5) if dt.tzinfo else int(
        (dt - datetime(1970, 1, 1)).total_seconds() * 1000 + 0.5)


def max_in_window(times, width):
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def figures(times):
    times.sort()
    n = len(times)
    span = (times[-1] - times[0]) / 1000.0 if n > 1 else 0.0
    out = {
        "requests": n,
        "span_s": span,
        "achieved_rps": (n - 1) / span if span > 0 else 0.0,
        "max_100ms": max_in_window(times, 100) if n else 0,
        "max_1s": max_in_window(times, 1000) if n else 0,
    }
    return out


def read_times(path, keep):
    times = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                if keep(rec):
                    times.append(ms_of(rec["ts"]))
    return times


def is_vod_read(r):
    parts = r.get("target", "").split("?")[0].split("/")
    # .../api/projects/{p}/videos/{id}
    return (r.get("method") == "GET" and len(parts) >= 6 and parts[-2] == "videos"
            and parts[-4] == "projects")


def main(argv):
    if len(argv) > 2 and argv[1] == "--vod":
        print(json.dumps(figures(read_times(argv[2], is_vod_read))))
        return
    out = figures(read_times(argv[1], lambda r: r.get("method") == "POST" and
                             r.get("target", "").endswith("/stop-and-cut")))
    if len(argv) > 2:
        out["client"] = figures(read_times(argv[2], lambda r: r.get("type") == "dispatch"))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
