#!/usr/bin/env python3
"""One very large FHIR Bundle for one patient, to measure memory (docs/performance.md).

    python3 benches/gen_big_bundle.py ../shared/data/fhir/synthea-dirk-kuhlman.json 625 /tmp/big332.json

Keeps the Bundle's Patient once and repeats every other entry COPIES times, each copy with
its own resource id and fullUrl (references to the Patient are unchanged, so every copy is
the same patient's). Written on one line; about 0.53 MB per copy of the Kuhlman bundle.
Not committed output: generate it where it is measured.
"""
import json
import sys


def main() -> None:
    source, copies, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(source) as f:
        bundle = json.load(f)
    entries = bundle["entry"]
    patient = [e for e in entries if e["resource"]["resourceType"] == "Patient"]
    others = [json.dumps(e, separators=(",", ":")) for e in entries
              if e["resource"]["resourceType"] != "Patient"]
    with open(out, "w") as f:
        head = {k: v for k, v in bundle.items() if k != "entry"}
        f.write(json.dumps(head, separators=(",", ":"))[:-1])
        f.write(',"entry":[')
        f.write(json.dumps(patient[0], separators=(",", ":")))
        for k in range(copies):
            for text in others:
                e = json.loads(text)
                r = e["resource"]
                if "id" in r:
                    r["id"] = f'{r["id"]}-{k}'
                if "fullUrl" in e:
                    e["fullUrl"] = f'{e["fullUrl"]}-{k}'
                f.write(",")
                f.write(json.dumps(e, separators=(",", ":")))
        f.write("]}\n")


if __name__ == "__main__":
    main()
