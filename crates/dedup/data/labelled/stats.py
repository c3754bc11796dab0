#!/usr/bin/env python3
"""Check recommendations.jsonl and print its counts (as Markdown, for README.md).

    python3 crates/dedup/data/labelled/stats.py
"""
import collections, csv, json, pathlib, re, sys, unicodedata

HERE = pathlib.Path(__file__).resolve().parent
TSV = HERE.parents[3] / "data" / "hanoi-communes-2025.tsv"   # the repository's commune list
KINDS = ["nfd", "mixed_nf", "tone_old", "no_diacritics", "all_caps", "abbreviation", "opening",
         "paraphrase", "synonym", "hard_negative", "cross_bloc"]
BLOCS = {"PARTY", "COUNCIL", "GOVERNMENT", "FRONT"}

def fail(msg):
    sys.exit(f"error: {msg}")

codes = set()
if TSV.exists():
    with open(TSV, encoding="utf-8") as f:
        codes = {r["code"] for r in csv.DictReader(f, delimiter="\t")}

items, ids = [], set()
for n, line in enumerate(open(HERE / "recommendations.jsonl", encoding="utf-8"), 1):
    r = json.loads(line)
    if set(r) != {"id", "text", "cluster", "bloc", "unit", "kinds"}:
        fail(f"line {n}: fields {sorted(r)}")
    if r["id"] in ids:
        fail(f"duplicate id {r['id']}")
    ids.add(r["id"])
    if r["bloc"] not in BLOCS or not re.fullmatch(r"c\d{3}-[a-z0-9-]+", r["cluster"]):
        fail(f"{r['id']}: bloc or cluster")
    if not re.fullmatch(r"\d{5}", r["unit"]) or (codes and r["unit"] not in codes):
        fail(f"{r['id']}: unit {r['unit']}")
    if set(r["kinds"]) - set(KINDS):
        fail(f"{r['id']}: unknown kind {set(r['kinds']) - set(KINDS)}")
    t, nfc = r["text"], unicodedata.normalize("NFC", r["text"])
    combining = any("\u0300" <= c <= "\u036f" for c in t)
    if "nfd" in r["kinds"] and (not combining or t != unicodedata.normalize("NFD", t) or nfc == t):
        fail(f"{r['id']}: nfd but not decomposed")
    if "mixed_nf" in r["kinds"]:
        composed = any(unicodedata.normalize("NFD", c) != c for c in t)
        if not (combining and composed):
            fail(f"{r['id']}: mixed_nf needs both forms")
    if not {"nfd", "mixed_nf"} & set(r["kinds"]) and nfc != t:
        fail(f"{r['id']}: not NFC but not tagged")
    if "no_diacritics" in r["kinds"] and re.search(r"[^\x00-\x7f–]", t):
        fail(f"{r['id']}: no_diacritics has non-ASCII")
    if "all_caps" in r["kinds"] and t != t.upper():
        fail(f"{r['id']}: all_caps not upper case")
    items.append(r)

clusters = collections.defaultdict(list)
for r in items:
    clusters[r["cluster"]].append(r)
sizes = collections.Counter(len(v) for v in clusters.values())
kinds = collections.Counter(k for r in items for k in r["kinds"])
multi = [v for v in clusters.values() if len(v) > 1]
cross = sum(1 for v in multi if len({r["bloc"] for r in v}) > 1)
words = [len(unicodedata.normalize("NFC", r["text"]).split()) for r in items]

if len(items) < 240 or len(clusters) < 60:
    fail("too few items or clusters")
for k in KINDS:
    if kinds[k] < (5 if k == "mixed_nf" else 15):
        fail(f"kind {k}: only {kinds[k]}")

print(f"{len(items)} items, {len(clusters)} clusters; "
      f"{len(multi)} multi-member clusters, {cross} of them span two or more blocs; "
      f"words per item {min(words)}–{max(words)} (median {sorted(words)[len(words)//2]})\n")
print("| cluster size | clusters |\n|---:|---:|")
for s in sorted(sizes):
    print(f"| {s} | {sizes[s]} |")
print("\n| kind | items |\n|---|---:|")
for k in KINDS:
    print(f"| `{k}` | {kinds[k]} |")
blocs = collections.Counter(r["bloc"] for r in items)
print("\n| bloc | items |\n|---|---:|")
for b in ["PARTY", "COUNCIL", "GOVERNMENT", "FRONT"]:
    print(f"| {b} | {blocs[b]} |")
print("\n| cluster | items | blocs |\n|---|---:|---|")
for c in sorted(clusters):
    v = clusters[c]
    print(f"| {c} | {len(v)} | {', '.join(sorted({r['bloc'] for r in v}))} |")
