#!/usr/bin/env python3
"""Turns tests/bench/run.sh's raw.jsonl into one Markdown table (stdout).

Every figure is the median over the runs; ratios are taken between medians. A verdict is
PASS or MISS against the issue's targets; rows without a target say "info".
"""
import json
import math
import statistics
import sys
from collections import defaultdict

TOOL_LABEL = {
    "batchcut": "batchcut (ledger group commit)",
    "batchcut-nosync": "batchcut --ledger-sync-none",
    "wrk": "wrk -t1 (Lua: batchcut's body, lv ids rotate, all 200)",
    "hey": "hey (one fixed URL: 1st 200, the rest 400)",
    "h2load": "h2load --h1 -t1 (-i URL list; each client starts it at lv0, so ~1/C are 200)",
    "curl": "curl -Z --parallel-max C (config of N URLs, all 200)",
}
TOOL_ORDER = ["batchcut", "batchcut-nosync", "wrk", "hey", "h2load", "curl"]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_int(x):
    return "—" if x is None else f"{x:,.0f}"


def fmt(x, nd=1):
    return "—" if x is None else f"{x:,.{nd}f}"


def verdict(ok):
    if ok is None:
        return "n/a"
    return "PASS" if ok else "MISS"


def main(path):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    cfg = next((r for r in recs if r["kind"] == "config"), {})
    done = next((r for r in recs if r["kind"] == "done"), {})
    runs = cfg.get("runs", "?")
    jobs = cfg.get("jobs", 0)
    conc = cfg.get("conc", 0)
    rows = []  # (section, measure, result, target, verdict)

    def row(sec, measure, result, target="—", v="info"):
        rows.append((sec, measure, result, target, v))

    # ---------------- 1. throughput
    tput = defaultdict(list)
    for r in recs:
        if r["kind"] == "tput":
            tput[(r["transport"], r["tool"])].append(r)

    def figures(rs):
        out = defaultdict(list)
        for r in rs:
            emu = r.get("emu") or {}
            n = emu.get("requests") or jobs
            n = min(n, jobs) if jobs else n  # wrk's few requests past N, still in flight
            cpu = r["user"] + r["sys"]
            out["jps"].append(n / r["wall"] if r["wall"] > 0 else None)
            out["cpu_ms_1k"].append(cpu / n * 1000 * 1000 if n else None)
            out["rss_mb"].append(r["rss_kb"] / 1024)
            out["emu_busy"].append(r["emu_cpu_s"] / r["wall"] if r["wall"] > 0 else None)
            by = emu.get("requestsByStatus") or {}
            tot = emu.get("requests") or 0
            out["ok_share"].append(by.get("200", 0) / tot if tot else None)
            out["conns"].append(emu.get("connectionsAccepted"))
            out["rc"].append(r["rc"])
        return {k: (med(v) if k != "rc" else v) for k, v in out.items()}

    for tr in ["http", "https"]:
        fig = {t: figures(tput[(tr, t)]) for t in TOOL_ORDER if tput.get((tr, t))}
        if not fig:
            continue
        trl = "HTTP" if tr == "http" else "TLS"
        for t in TOOL_ORDER:
            if t not in fig:
                continue
            f = fig[t]
            busy = f["emu_busy"]
            note = " · **emulator-bound**" if busy is not None and busy >= 0.9 else ""
            bad_rc = [c for c in f["rc"] if c != 0]
            rc_note = f" · exit codes {f['rc']}" if bad_rc else ""
            row("1 Throughput", f"{trl} · {TOOL_LABEL[t].replace(' C ', f' {conc} ').replace(' N ', f' {jobs:,} ').replace('1/C', f'1/{conc}')}",
                f"{fmt_int(f['jps'])} jobs/s · {fmt(f['cpu_ms_1k'], 1)} CPU-ms/1k req · "
                f"{fmt(f['rss_mb'], 0)} MB peak RSS · emulator core {fmt(100 * busy if busy is not None else None, 0)}% busy · "
                f"{fmt(100 * f['ok_share'] if f['ok_share'] is not None else None, 1)}% 200s · {fmt_int(f['conns'])} conns{note}{rc_note}")
        if "wrk" in fig:
            w = fig["wrk"]
            bb = fig.get("batchcut", {}).get("emu_busy")
            row("1 Throughput", f"{trl} · emulator ceiling (wrk alone, 1 emulator thread on its own core); "
                "is the emulator the bottleneck of batchcut's row?",
                f"ceiling {fmt_int(w['jps'])} req/s with the emulator core "
                f"{fmt(100 * w['emu_busy'] if w['emu_busy'] is not None else None, 0)}% busy; during batchcut's runs "
                f"{fmt(100 * bb if bb is not None else None, 0)}% busy",
                "emulator core < 90% busy under batchcut", verdict(bb < 0.9) if bb is not None else "n/a")
        b = fig.get("batchcut")
        if b and "hey" in fig and fig["hey"]["jps"]:
            x = b["jps"] / fig["hey"]["jps"]
            row("1 Throughput", f"{trl} · batchcut jobs/s ÷ hey", f"{x:.2f}×", "≥ 1.00×", verdict(x >= 1.0))
        if b and "wrk" in fig and fig["wrk"]["jps"]:
            x = b["jps"] / fig["wrk"]["jps"]
            row("1 Throughput", f"{trl} · batchcut jobs/s ÷ wrk", f"{x:.2f}×", "≥ 0.70×", verdict(x >= 0.7))
            y = b["cpu_ms_1k"] / fig["wrk"]["cpu_ms_1k"]
            row("1 Throughput", f"{trl} · batchcut CPU per request ÷ wrk", f"{y:.2f}×", "≤ 1.50×", verdict(y <= 1.5))
        if b and "batchcut-nosync" in fig and fig["batchcut-nosync"]["jps"]:
            cost = 1 - b["jps"] / fig["batchcut-nosync"]["jps"]
            row("1 Throughput", f"{trl} · ledger durability cost (group commit vs --ledger-sync-none)",
                f"costs {100 * cost:.1f}% of the jobs/s ({fmt_int(b['jps'])} vs {fmt_int(fig['batchcut-nosync']['jps'])})",
                "≤ 10%", verdict(cost <= 0.10))

    # ---------------- 2. pacing
    pace = [r for r in recs if r["kind"] == "pace"]
    if pace:
        rate = cfg.get("pace_rate", 200)
        burst = 1
        ach = [r["windows"]["achieved_rps"] for r in pace]
        m1 = [r["windows"]["max_1s"] for r in pace]
        m100 = [r["windows"]["max_100ms"] for r in pace]
        bc = [(r.get("batchcut") or {}).get("rps") for r in pace]
        a = med(ach)
        dev = a / rate - 1
        row("2 Pacing", f"--rate {rate} --burst {burst}, {cfg.get('pace_seconds')} s: achieved rate at the emulator "
            "((requests−1) ÷ first-to-last span)",
            f"{a:.2f}/s ({100 * dev:+.2f}%; runs {', '.join(f'{x:.2f}' for x in ach)}); batchcut's own summary {fmt(med(bc), 1)} req/s",
            f"{rate} ± 1%", verdict(abs(dev) <= 0.01))
        c1 = [r["windows"].get("client", {}).get("max_1s") for r in pace]
        c100 = [r["windows"].get("client", {}).get("max_100ms") for r in pace]
        cl1 = f"; at the client (ledger dispatch times) {med(c1):.0f} (worst {max(c1)})" if None not in c1 else ""
        cl100 = f"; at the client {med(c100):.0f} (worst {max(c100)})" if None not in c100 else ""
        row("2 Pacing", "most requests the emulator saw in any 1 s window (sliding, 1 ms steps)",
            f"{med(m1):.0f} (worst run {max(m1)}){cl1}", f"≤ {rate + burst} (rate + burst)",
            verdict(max(m1) <= rate + burst))
        row("2 Pacing", "most requests the emulator saw in any 100 ms window",
            f"{med(m100):.0f} (worst run {max(m100)}){cl100}", f"info (ideal {rate / 10:.0f} + burst {burst})", "info")

    # ---------------- 3. latency-bound
    lat = [r for r in recs if r["kind"] == "latency"]
    if lat:
        lj, lc, lms = cfg["lat_jobs"], cfg["lat_conc"], cfg["lat_ms"]
        ideal = math.ceil(lj / lc) * lms / 1000
        w = med([r["wall"] for r in lat])
        el = med([(r.get("batchcut") or {}).get("elapsed_s") for r in lat])
        conns = med([(r.get("emu") or {}).get("connectionsAccepted") for r in lat])
        x = w / ideal
        row("3 Latency-bound", f"{lj:,} jobs, concurrency {lc:,}, emulator latency {lms} ms, HTTP: process wall time",
            f"{w:.2f} s = {x:.3f}× ideal {ideal:g} s (runs {', '.join(str(r['wall']) for r in lat)}); "
            f"batchcut's own elapsed {fmt(el, 1)} s; {fmt_int(conns)} conns; "
            f"{fmt(med([r['rss_kb'] / 1024 for r in lat]), 0)} MB peak RSS",
            "≤ 1.10× ideal", verdict(x <= 1.10))

    # ---------------- 4. scale
    sc = defaultdict(list)
    for r in recs:
        if r["kind"] == "scale":
            sc[r["what"]].append(r)
    inputs = next((r for r in recs if r["kind"] == "scale_inputs"), {})
    sj = cfg.get("scale_jobs", 0)
    if sc:
        def mw(w):
            return med([r["wall"] for r in sc[w]])

        def mr(w):
            return med([r["rss_kb"] / 1024 for r in sc[w]])

        def rcs(w):
            bad = [r["rc"] for r in sc[w] if r["rc"] != 0]
            return f" · exit codes {[r['rc'] for r in sc[w]]}" if bad else ""

        mb = inputs.get("manifest_bytes", 0) / 1e6
        lb = inputs.get("ledger_bytes", 0) / 1e6
        if sc.get("validate"):
            row("4 Scale", f"`validate` a {sj:,}-job CSV manifest ({mb:.0f} MB): time", f"{mw('validate'):.2f} s{rcs('validate')}",
                "≤ 3 s", verdict(mw("validate") <= 3))
            row("4 Scale", f"`validate` {sj:,} jobs: peak RSS", f"{mr('validate'):.0f} MB", "≤ 200 MB",
                verdict(mr("validate") <= 200))
        if sc.get("validate_big"):
            big = next((r for r in recs if r["kind"] == "scale_big"), {})
            row("4 Scale", f"`validate` a {big.get('jobs', 0):,}-job CSV manifest ({big.get('manifest_bytes', 0) / 1e6:.0f} MB, "
                "streamed): peak RSS", f"{mr('validate_big'):.0f} MB ({mw('validate_big'):.1f} s){rcs('validate_big')}",
                "< 1 GB", verdict(mr("validate_big") < 1024 and not rcs("validate_big")))
        if sc.get("dryrun"):
            row("4 Scale", f"`run --dry-run` {sj:,} jobs (no ledger; {sj:,} requests printed to /dev/null): peak RSS",
                f"{mr('dryrun'):.0f} MB ({mw('dryrun'):.2f} s){rcs('dryrun')}", "info")
        if sc.get("status"):
            row("4 Scale", f"load a {sj:,}-job ledger ({lb:.0f} MB, 3 records per job, all succeeded): `status`",
                f"{mw('status'):.2f} s · {mr('status'):.0f} MB peak RSS{rcs('status')}", "≤ 2 s", verdict(mw("status") <= 2))
        if sc.get("resume"):
            extra, v, tgt = "", "info", "info"
            if sc.get("validate"):
                d = mw("resume") - mw("validate")
                extra = f"; minus `validate`'s time: {d:.2f} s"
                v, tgt = verdict(d <= 2), "ledger part ≤ 2 s"
            row("4 Scale", f"resume: `run` the {sj:,}-job manifest with that ledger (locks, reads both, skips all, sends nothing)",
                f"{mw('resume'):.2f} s · {mr('resume'):.0f} MB peak RSS{extra}{rcs('resume')}", tgt, v)

    # ---------------- 5. connections
    bt = tput.get(("https", "batchcut"))
    if bt:
        acc = [(r.get("emu") or {}).get("connectionsAccepted") for r in bt]
        own = [(r.get("batchcut") or {}).get("connections") for r in bt]
        worst = max(a for a in acc if a is not None)
        row("5 Connections", f"TLS handshakes (emulator's accepted connections) for {jobs:,} batchcut jobs, concurrency {conc}",
            f"{fmt_int(med(acc))} (runs {acc}; batchcut's own count {own})", f"== {conc}",
            verdict(all(a == conc for a in acc)))

    # ---------------- print
    print(f"batchcut benchmark · commit {cfg.get('commit')} · {cfg.get('nproc')} cores ({cfg.get('cpu')}) · "
          f"median of {runs} run(s) · client pinned to core 0 and emulator ({cfg.get('emu_threads')} thread) to core 1: "
          f"{'yes' if cfg.get('pin') else 'no'} · {'QUICK sizes · ' if cfg.get('quick') else ''}"
          f"bench took {done.get('seconds', '?')} s")
    print()
    print("| Row | Measure | Result | Target | Verdict |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    misses = [r for r in rows if r[4] == "MISS"]
    print()
    print(f"{len([r for r in rows if r[4] == 'PASS'])} PASS, {len(misses)} MISS")


if __name__ == "__main__":
    main(sys.argv[1])
