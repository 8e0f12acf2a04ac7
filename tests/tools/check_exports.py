#!/usr/bin/env python3
"""A second, independent reader of PoolScope's exports (standard library and
protoc only): CSV with Python's csv module, Chrome JSON with Python's json
module, Perfetto protobuf with `protoc --decode` and a schema of its own.

    check_exports.py [--csv FILE] [--json FILE] [--perfetto FILE --proto SCHEMA]

Prints one JSON object with what each file holds: task count, what the file
says about sampling, and a few tasks (id, start and end in ms from the
trace's origin) for the caller to compare with PoolScope's own counters.
Exit status 1 with a message on stderr when a file is malformed.
"""
import argparse
import csv
import json
import re
import subprocess
import sys

FEW = 3


def fail(msg):
    print("check_exports: " + msg, file=sys.stderr)
    sys.exit(1)


def check_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    need = {"id", "status", "start_ms", "end_ms", "sampled_1_in", "run_tasks"}
    if rows and not need <= set(rows[0]):
        fail("%s: missing columns %s" % (path, sorted(need - set(rows[0]))))
    out = {"rows": len(rows), "statuses": {}, "few": []}
    ids = set()
    for r in rows:
        ids.add(int(r["id"]))
        out["statuses"][r["status"]] = out["statuses"].get(r["status"], 0) + 1
        if float(r["end_ms"]) < float(r["start_ms"]):
            fail("%s: task %s ends before it starts" % (path, r["id"]))
    if len(ids) != len(rows):
        fail("%s: %d rows but %d distinct ids" % (path, len(rows), len(ids)))
    sampled = {r["sampled_1_in"] for r in rows}
    tasks = {r["run_tasks"] for r in rows}
    if len(sampled) > 1 or len(tasks) > 1:
        fail("%s: sampled_1_in or run_tasks differ between rows" % path)
    out["sampled_1_in"] = int(sampled.pop()) if sampled else None
    out["run_tasks"] = int(tasks.pop()) if tasks else None
    for r in sorted(rows, key=lambda r: int(r["id"]))[:FEW]:
        out["few"].append([int(r["id"]), float(r["start_ms"]), float(r["end_ms"])])
    return out


def check_json(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    other = doc.get("otherData", {}) if isinstance(doc, dict) else {}
    tasks = [e for e in events if e.get("ph") == "X" and e.get("cat") != "submit"]
    for e in tasks:
        if "dur" not in e or e["dur"] < 0:
            fail("%s: slice without a valid dur" % path)
    ids = [e["args"]["id"] for e in tasks]
    if len(set(map(str, ids))) != len(ids):
        fail("%s: a task id appears twice" % path)
    # Slices on one thread never partially overlap.
    by_tid = {}
    for e in tasks:
        by_tid.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_tid.values():
        spans.sort()
        for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
            if s1 < e0 - 1e-3 and e1 > e0 + 1e-3:
                fail("%s: slices overlap partially on one thread" % path)
    few = sorted(tasks, key=lambda e: int(e["args"]["id"]))[:FEW]
    return {
        "slices": len(tasks),
        "tasks_meta": other.get("tasks"),
        "sampled_1_in": other.get("sampled_1_in"),
        "lost": other.get("lost"),
        "note": other.get("note", ""),
        "few": [[int(e["args"]["id"]), e["ts"] / 1000.0, (e["ts"] + e["dur"]) / 1000.0]
                for e in few],
    }


def check_perfetto(path, proto):
    with open(path, "rb") as f:
        data = f.read()
    schema_dir = proto.rsplit("/", 1)[0] if "/" in proto else "."
    res = subprocess.run(["protoc", "--proto_path=" + schema_dir,
                          "--decode=perfetto.protos.Trace", proto.rsplit("/", 1)[-1]],
                         input=data, capture_output=True)
    if res.returncode != 0:
        fail("%s: protoc could not decode it: %s" % (path, res.stderr.decode(errors="replace")))
    text = res.stdout.decode("utf-8", errors="replace")
    # Walk the text format: packets, their timestamp, track event type and track.
    begins = ends = 0
    open_by_track = {}
    meta = {}
    ann_names = {}
    few = []
    stack = []  # field names of the open messages
    pkt = None
    ann = None
    for line in text.splitlines():
        s = line.strip()
        if s.endswith("{"):
            name = s[:-1].strip()
            stack.append(name)
            if name == "packet":
                pkt = {"anns": []}
            elif name == "debug_annotations" and len(stack) == 3:
                ann = {}
            continue
        if s == "}":
            name = stack.pop()
            if name == "debug_annotations" and len(stack) == 2 and ann is not None:
                pkt["anns"].append(ann)
                ann = None
            elif name == "packet":
                t = pkt.get("type")
                if t == "TYPE_SLICE_BEGIN":
                    begins += 1
                    open_by_track[pkt["track"]] = open_by_track.get(pkt["track"], 0) + 1
                    # The FEW smallest ids of the whole file (tracks are
                    # written one after another: task 1 may be far in).
                    ident = None
                    for a in pkt["anns"]:
                        if ann_names.get(a.get("name_iid")) == "id":
                            ident = a.get("uint_value")
                    if ident is not None:
                        few.append([ident, pkt.get("ts", 0)])
                        if len(few) > 1000:
                            few.sort()
                            del few[FEW:]
                elif t == "TYPE_SLICE_END":
                    ends += 1
                    n = open_by_track.get(pkt["track"], 0)
                    if n <= 0:
                        fail("%s: a slice ends on a track with none open" % path)
                    open_by_track[pkt["track"]] = n - 1
                elif t == "TYPE_INSTANT" and pkt.get("name") == "poolscope.run":
                    for a in pkt["anns"]:
                        if "name" in a:
                            meta[a["name"]] = a.get("uint_value", a.get("int_value",
                                                                         a.get("string_value")))
                pkt = None
            continue
        m = re.match(r'(\w+): (.*)$', s)
        if not m or pkt is None:
            continue
        key, val = m.group(1), m.group(2)
        path_now = "/".join(stack)
        if key == "timestamp" and path_now == "packet":
            pkt["ts"] = int(val)
        elif key == "type" and path_now == "packet/track_event":
            pkt["type"] = val
        elif key == "track_uuid" and path_now == "packet/track_event":
            pkt["track"] = int(val)
        elif key == "name" and path_now == "packet/track_event":
            pkt["name"] = json.loads(val)
        elif path_now == "packet/interned_data/debug_annotation_names":
            if key == "iid":
                pending_iid = int(val)
            elif key == "name":
                ann_names[pending_iid] = json.loads(val)
        elif ann is not None and path_now == "packet/track_event/debug_annotations":
            if key in ("name_iid", "uint_value", "int_value"):
                ann[key] = int(val)
            elif key in ("name", "string_value"):
                ann[key] = json.loads(val)
    if any(n != 0 for n in open_by_track.values()):
        fail("%s: slices left open at the end" % path)
    if begins != ends:
        fail("%s: %d slice begins but %d ends" % (path, begins, ends))
    base = meta.get("base_ns", 0)
    origin = meta.get("origin_ns", 0)
    few = sorted([f for f in few if f[0] is not None])[:FEW]
    return {
        "slices": begins,
        "tasks_meta": meta.get("tasks"),
        "sampled_1_in": meta.get("sampled_1_in"),
        "lost": meta.get("lost"),
        "note": meta.get("note", ""),
        "few": [[i, (ts + base - origin) / 1e6] for i, ts in few],
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv")
    p.add_argument("--json")
    p.add_argument("--perfetto")
    p.add_argument("--proto")
    a = p.parse_args()
    out = {}
    if a.csv:
        out["csv"] = check_csv(a.csv)
    if a.json:
        out["json"] = check_json(a.json)
    if a.perfetto:
        if not a.proto:
            fail("--perfetto needs --proto")
        out["perfetto"] = check_perfetto(a.perfetto, a.proto)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
