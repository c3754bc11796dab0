"""The Python side of `lienthong-bench cluster-batch`: the same texts through
datasketch's MinHash and MinHashLSH, with the same workload as the Rust
engine (for each text in order: query the index, then insert the text).

    minhash_lsh.py INPUT.jsonl [--num-perm 128] [--threshold 0.5]

INPUT.jsonl has one {"id", "text", "cluster"} object per line. Tokens are the
lower-cased whitespace-separated words of the text; nothing is normalised.
Prints one JSON object: throughput of the timed loop (hashing, querying and
inserting; reading the file is not timed) and how many planted pairs (two
texts of one planted cluster) the queries returned as candidates.
"""

import argparse
import json
import sys
import time
from collections import Counter

import datasketch
from datasketch import MinHash, MinHashLSH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=0.5)
    arguments = parser.parse_args()

    texts = []
    clusters = []
    with open(arguments.input, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                item = json.loads(line)
                texts.append(item["text"])
                clusters.append(item["cluster"])

    lsh = MinHashLSH(threshold=arguments.threshold, num_perm=arguments.num_perm)
    # Permutations are drawn once and shared, as datasketch documents for
    # many sketches; drawing them per text would measure NumPy's generator.
    template = MinHash(num_perm=arguments.num_perm)
    candidates = []
    started = time.perf_counter()
    for index, text in enumerate(texts):
        sketch = MinHash(
            num_perm=arguments.num_perm,
            permutations=template.permutations,
            scheme=template.scheme,
        )
        sketch.update_batch([word.encode("utf-8") for word in text.lower().split()])
        candidates.append(lsh.query(sketch))
        lsh.insert(index, sketch)
    seconds = time.perf_counter() - started

    found = 0
    candidate_pairs = 0
    for index, returned in enumerate(candidates):
        candidate_pairs += len(returned)
        found += sum(1 for other in returned if clusters[other] == clusters[index])
    planted = sum(size * (size - 1) // 2 for size in Counter(clusters).values())
    json.dump(
        {
            "engine": "datasketch %s" % datasketch.__version__,
            "python": sys.version.split()[0],
            "num_perm": arguments.num_perm,
            "threshold": arguments.threshold,
            "texts": len(texts),
            "seconds": seconds,
            "texts_per_second": len(texts) / seconds if seconds > 0 else 0.0,
            "candidate_pairs": candidate_pairs,
            "planted_pairs": planted,
            "planted_pairs_found": found,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
