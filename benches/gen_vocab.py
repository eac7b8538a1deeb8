#!/usr/bin/env python3
"""Writes a synthetic OMOP vocabulary of Athena's shape into a folder, to measure how long
`eligc run --vocabulary` takes to read one and how much memory it needs (docs/performance.md).

    python3 benches/gen_vocab.py OUT_DIR [--scale 1.0] [--ancestor]

At scale 1: 1,000,000 concepts (600k SNOMED, 300k RxNorm, 100k ICD-10-CM, 5k ATC and 30k of a
vocabulary eligc has no system for) and about 5 million CONCEPT_RELATIONSHIP rows (both
directions of `Is a`, RxNorm ingredient and tradename links, `Maps to`, ATC links, and
relationships eligc does not follow). Tab-separated and unquoted, as Athena ships them.
The standard library's codes are among them: SNOMED ones at random places in an 8-level
tree (some with thousands of descendants), RxNorm ones as ingredients with their products. With --ancestor, CONCEPT_ANCESTOR holds the
transitive closure of SNOMED and RxNorm (capped per concept), as in a full download;
otherwise it is empty. Deterministic (seeded).
"""
import os
import random
import re
import sys


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    scale = float(args[args.index("--scale") + 1]) if "--scale" in args else 1.0
    ancestor = "--ancestor" in args
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(20261201)
    here = os.path.dirname(os.path.abspath(__file__))
    std = open(os.path.join(here, "..", "src", "stdlib", "std.elig")).read()
    real = {
        s: sorted(set(re.findall(s + r":([A-Za-z0-9.\-]+)", std)))
        for s in ("snomed", "rxnorm", "icd10", "atc")
    }
    n_snomed = int(600_000 * scale)
    n_ing = int(20_000 * scale)
    n_prod = int(280_000 * scale)
    n_icd = int(100_000 * scale)
    n_atc = int(5_000 * scale)
    n_other = int(30_000 * scale)

    concepts = []  # (id, name, domain, vocabulary, class, code)
    next_id = [1]

    def add(name, domain, vocab, cls, code):
        cid = next_id[0]
        next_id[0] += 1
        concepts.append((cid, name, domain, vocab, cls, code))
        return cid

    def code(pool, i, fallback):
        return pool[i] if i < len(pool) else fallback

    places = rnd.sample(range(20, n_snomed), len(real["snomed"]))
    at = {p: c for p, c in zip(places, real["snomed"])}
    snomed = [add(f"finding {i}", "Condition", "SNOMED", "Clinical Finding",
                  at.get(i, str(900_000_000 + i))) for i in range(n_snomed)]
    ing = [add(f"ingredient {i}", "Drug", "RxNorm", "Ingredient",
               code(real["rxnorm"], i, str(5_000_000 + i))) for i in range(n_ing)]
    prod = [add(f"product {i} 5 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug",
                str(6_000_000 + i)) for i in range(n_prod)]
    icd = [add(f"icd {i}", "Condition", "ICD10CM", "4-char billing code",
               code(real["icd10"], i, f"Z{i // 100:03d}.{i % 100:02d}")) for i in range(n_icd)]
    atc = [add(f"atc {i}", "Drug", "ATC", "ATC 5th",
               code(real["atc"], i, f"X{i:06d}")) for i in range(n_atc)]
    other = [add(f"other {i}", "Drug", "NDC", "NDC", str(70_000_000 + i)) for i in range(n_other)]

    rels = []  # (id1, id2, relationship)

    def both(child, parent, up, down):
        rels.append((child, parent, up))
        rels.append((parent, child, down))

    parents = {}
    # SNOMED: a tree about 8 levels deep (each concept under one a few times nearer the
    # root), a fifth of concepts with a second parent; the library's codes sit at random
    # places, so some have subtrees of thousands of concepts and most a handful.
    for i in range(1, n_snomed):
        p = snomed[rnd.randrange(i // 6, max(i // 6 + 1, i // 3))]
        both(snomed[i], p, "Is a", "Subsumes")
        parents.setdefault(snomed[i], []).append(p)
        if rnd.random() < 0.2:
            q = snomed[rnd.randrange(i // 6, max(i // 6 + 1, i // 2))]
            if q != p:
                both(snomed[i], q, "Is a", "Subsumes")
                parents[snomed[i]].append(q)
    # RxNorm: products have one or two ingredients; some are tradenames of others.
    for k, p in enumerate(prod):
        ings = {ing[rnd.randrange(0, n_ing)]}
        if rnd.random() < 0.3:
            ings.add(ing[rnd.randrange(0, n_ing)])
        for g in ings:
            both(p, g, "RxNorm has ing", "RxNorm ing of")
            parents.setdefault(p, []).append(g)
        if k > 0 and rnd.random() < 0.3:
            q = prod[rnd.randrange(0, k)]
            both(p, q, "Tradename of", "Has tradename")
            parents[p].append(q)
    # ICD-10-CM maps to SNOMED.
    for c in icd:
        both(c, snomed[rnd.randrange(0, n_snomed)], "Maps to", "Mapped from")
    # ATC classes to ingredients (primary links).
    for a in atc:
        for _ in range(3):
            both(ing[rnd.randrange(0, n_ing)], a, "RxNorm - ATC pr lat", "ATC - RxNorm pr lat")
    # NDC codes map to products; relationships eligc does not follow.
    for c in other:
        both(c, prod[rnd.randrange(0, n_prod)], "Maps to", "Mapped from")
    noise = ["Has finding site", "Finding site of", "Has asso morph", "Asso morph of",
             "Has dose form", "RxNorm dose form of", "Has brand name", "Brand name of"]
    total = next_id[0] - 1
    while len(rels) < int(5_000_000 * scale):
        rels.append((rnd.randrange(1, total + 1), rnd.randrange(1, total + 1), rnd.choice(noise)))

    with open(os.path.join(out, "CONCEPT.csv"), "w") as f:
        f.write("concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\t"
                "standard_concept\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason\n")
        for cid, name, domain, vocab, cls, c in concepts:
            f.write(f"{cid}\t{name}\t{domain}\t{vocab}\t{cls}\tS\t{c}\t19700101\t20991231\t\n")
    with open(os.path.join(out, "CONCEPT_RELATIONSHIP.csv"), "w") as f:
        f.write("concept_id_1\tconcept_id_2\trelationship_id\tvalid_start_date\tvalid_end_date\tinvalid_reason\n")
        for a, b, r in rels:
            f.write(f"{a}\t{b}\t{r}\t19700101\t20991231\t\n")
    with open(os.path.join(out, "CONCEPT_ANCESTOR.csv"), "w") as f:
        f.write("ancestor_concept_id\tdescendant_concept_id\tmin_levels_of_separation\tmax_levels_of_separation\n")
        rows = 0
        if ancestor:
            for c in list(snomed) + list(prod):
                seen = {c}
                stack = [c]
                while stack and len(seen) < 60:
                    x = stack.pop()
                    for p in parents.get(x, []):
                        if p not in seen:
                            seen.add(p)
                            stack.append(p)
                for a in seen:
                    f.write(f"{a}\t{c}\t0\t0\n")
                    rows += 1
    print(f"{out}: {len(concepts)} concepts, {len(rels)} relationships, {rows} ancestor rows")


if __name__ == "__main__":
    main()
