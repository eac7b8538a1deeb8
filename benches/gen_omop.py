#!/usr/bin/env python3
"""Generates an OMOP CDM v5.4 export (CSV) of synthetic persons for a protocol, with its own
vocabulary tables, for the SQL differential tests and the SQL benchmark (docs/sql.md,
docs/performance.md).

    benches/gen_omop.py --protocol protocols/sle-car-t/protocol.elig --persons 1000 \\
        --seed 7 --out /tmp/omop [--no-ancestors]

The concepts are read from the protocol and the files it uses (`use std` is
src/stdlib/std.elig): every code becomes a CONCEPT row; conditions and procedures get a child
concept placed under them (CONCEPT_ANCESTOR and an `Is a` relationship), drugs a product
(`RxNorm has ing`), so that the vocabulary's placing is exercised. Persons get results in
several units (the canonical one, a convertible one, an unknown spelling, none), bounds,
reference ranges (some inverted), answers as concepts and as strings, conditions with and
without an end, unmapped rows (concept 0), codes the vocabulary places elsewhere, drugs ended
by end date, verbatim date, days of supply or not at all, vaccines, procedures, visits, and
OBSERVATION rows of the Condition domain. A side file (`OUT.side.jsonl`, beside the folder) gives anchors and
attestations. Every row is valid: no person is rejected by `eligc run`.
"""
import argparse
import csv
import json
import os
import shutil
import random
import re
import datetime as dt

ROOT = os.environ.get("ELIGC_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VOCAB = {"snomed": "SNOMED", "icd10": "ICD10CM", "rxnorm": "RxNorm", "loinc": "LOINC", "cvx": "CVX", "atc": "ATC"}
DOMAIN = {"observation": "Measurement", "score": "Measurement", "condition": "Condition", "drug": "Drug",
          "vaccine": "Drug", "procedure": "Procedure", "encounter": "Visit"}
# Units with a convertible alternative (factor to the canonical unit) and an unknown spelling.
ALT_UNITS = {"mg/dL": ("umol/L", None), "g/dL": ("g/L", 10), "kg": ("[lb_av]", None), "%": ("1", None),
             "U/L": ("[IU]/L", 1), "mL/min/1.73m2": ("mL/min/{1.73_m2}", 1), "points": ("{score}", 1)}


def concepts(path):
    """(kind, name, unit, qualitative, codes) of every concept of the protocol and its uses."""
    text = open(path, encoding="utf-8").read()
    out = []
    if re.search(r"^use std\b", text, re.M):
        out += concepts(os.path.join(ROOT, "src/stdlib/std.elig"))
    for m in re.finditer(r'^use "([^"]+)"', text, re.M):
        out += concepts(os.path.join(os.path.dirname(path), m.group(1)))
    body = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"^(observation|score|condition|drug|vaccine|procedure|encounter)\s+(\w+)(.*?)codes\s*\[([^\]]*)\]",
                         body, re.M | re.S):
        kind, name, middle, codes = m.groups()
        unit = re.search(r"\bunit\s+(\S+)", middle)
        codes = [c.strip() for c in codes.replace("\n", " ").split(",") if ":" in c]
        out.append((kind, name, unit.group(1) if unit else ("points" if kind == "score" else None),
                    "qualitative" in middle, [tuple(c.split(":", 1)) for c in codes]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", default=os.path.join(ROOT, "protocols/sle-car-t/protocol.elig"))
    ap.add_argument("--persons", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--screening", default="2024-06-01")
    ap.add_argument("--no-ancestors", action="store_true", help="leave CONCEPT_ANCESTOR empty")
    ap.add_argument("--focus", default="", help="observations (by name, comma-separated) to give half the results to")
    ap.add_argument("--focus-events", default="",
                    help="conditions, drugs, vaccines, procedures (by name, comma-separated) to give half the events to")
    ap.add_argument("--dense", action="store_true",
                    help="events on a few shared dates and results repeated on the same day (ties for first/last, latest/earliest)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    screening = dt.date.fromisoformat(a.screening)

    cons = concepts(a.protocol)
    concept_rows, ancestor_rows, rel_rows = [], [], []
    next_id = [2000000]

    def new_concept(name, domain, vocab, code, cls="Clinical Finding"):
        next_id[0] += 1
        concept_rows.append([next_id[0], name, domain, vocab, cls, "S", code, "1970-01-01", "2099-12-31", ""])
        return next_id[0]

    by_code = {}
    kinds = {}
    for kind, name, unit, qual, codes in cons:
        ids = []
        for sys, code in codes:
            if sys not in VOCAB:
                continue
            key = (sys, code)
            if key not in by_code:
                by_code[key] = new_concept(name, DOMAIN[kind], VOCAB[sys], code)
            ids.append(by_code[key])
        if not ids:
            continue
        entry = kinds.setdefault(kind, [])
        child = None
        if kind in ("condition", "procedure") and rnd.random() < 0.7:
            child = new_concept(name + " (child)", DOMAIN[kind], "SNOMED", str(900000000 + next_id[0]))
            ancestor_rows.append([ids[0], child, 1, 1])
            rel_rows.append([child, ids[0], "Is a", "1970-01-01", "2099-12-31", ""])
        if kind == "drug" and rnd.random() < 0.7:
            child = new_concept(name + " 10 MG Oral Tablet", "Drug", "RxNorm", str(800000000 + next_id[0]), "Clinical Drug")
            ancestor_rows.append([ids[0], child, 1, 1])
            rel_rows.append([child, ids[0], "RxNorm has ing", "1970-01-01", "2099-12-31", ""])
        for i in ids:
            ancestor_rows.append([i, i, 0, 0])
        entry.append((name, unit, qual, ids, child))
    # Units, answers, visits, routes, noise.
    units = {}
    for u in ["mg/dL", "umol/L", "g/dL", "g/L", "kg", "[lb_av]", "%", "1", "U/L", "[IU]/L", "mL/min/1.73m2",
              "mL/min/{1.73_m2}", "{score}", "mm[Hg]", "/min", "10*3/uL", "10*9/L", "mmol/L", "mg/L", "ng/mL", "[iU]/mL",
              "kg/m2", "cm", "Cel", "{copies}/mL", "[IU]/mL", "mL/min"]:
        units[u] = new_concept(u, "Unit", "UCUM", u, "Unit")
    answers = {"positive": new_concept("Positive", "Meas Value", "SNOMED", "10828004"),
               "negative": new_concept("Negative", "Meas Value", "SNOMED", "260385009"),
               "normal": new_concept("Normal", "Meas Value", "SNOMED", "17621005"),
               "abnormal": new_concept("Abnormal", "Meas Value", "SNOMED", "263654008"),
               "detected": new_concept("Detected", "Meas Value", "LOINC", "LA11882-0"),
               "weird": new_concept("Trace", "Meas Value", "SNOMED", "260405006")}
    for vid, code, name in [(9201, "IP", "Inpatient Visit"), (9202, "OP", "Outpatient Visit"),
                            (9203, "ER", "Emergency Room Visit"), (262, "ERIP", "Emergency Room and Inpatient Visit")]:
        concept_rows.append([vid, name, "Visit", "Visit", "Visit", "S", code, "1970-01-01", "2099-12-31", ""])
    routes = [new_concept("Oral", "Route", "SNOMED", "26643006"), new_concept("Intravenous", "Route", "SNOMED", "47625008"),
              new_concept("Rectal", "Route", "SNOMED", "37161004")]
    noise_condition = [new_concept("Viral sinusitis", "Condition", "SNOMED", "444814009"),
                       new_concept("Essential hypertension", "Condition", "SNOMED", "59621000")]
    noise_drug = [new_concept("Acetaminophen", "Drug", "RxNorm", "161")]
    icd_source = new_concept("Systemic lupus erythematosus, unspecified", "Condition", "ICD10CM", "M32.9")
    ext_drug = new_concept("Some drug", "Drug", "RxNorm Extension", "OMOP99")
    for i in noise_condition + noise_drug:
        ancestor_rows.append([i, i, 0, 0])
    condition_domain_obs = new_concept("History of malignant neoplasm", "Condition", "SNOMED", "363346000")

    focus_events = [n for n in a.focus_events.split(",") if n]

    def date_near(days=400):
        if a.dense and rnd.random() < 0.5:
            return screening - dt.timedelta(days=rnd.choice([0, 3, 30, 30, 90, 200, 400]))
        return screening + dt.timedelta(days=rnd.randint(-days, 60))

    def pick(kind):
        """A concept of a kind: one of --focus-events half of the time, when any is of it."""
        focus = [c for c in kinds[kind] if c[0] in focus_events] if focus_events else []
        return rnd.choice(focus if focus and rnd.random() < 0.5 else kinds[kind])

    class Spool:
        """Rows written as they are made (a million persons do not fit in memory as lists),
        to a file that `w` later puts under the table's header."""

        def __init__(self, name):
            self.path = os.path.join(a.out, name + ".rows")
            self.f = open(self.path, "w", newline="")
            self.cw = csv.writer(self.f)

        def append(self, row):
            self.cw.writerow(row)

    def w(name, header, rows):
        with open(os.path.join(a.out, name + ".csv"), "w", newline="") as f:
            cw = csv.writer(f)
            cw.writerow(header)
            if isinstance(rows, Spool):
                rows.f.close()
                f.flush()
                with open(rows.path, newline="") as spooled:
                    shutil.copyfileobj(spooled, f)
                os.remove(rows.path)
            else:
                cw.writerows(rows)

    class SideFile:
        def __init__(self, path):
            self.f = open(path, "w")

        def append(self, entry):
            self.f.write(json.dumps(entry) + "\n")

    person, meas, obs, cond, drug, proc, visit = (Spool(n) for n in (
        "PERSON", "MEASUREMENT", "OBSERVATION", "CONDITION_OCCURRENCE", "DRUG_EXPOSURE", "PROCEDURE_OCCURRENCE",
        "VISIT_OCCURRENCE"))
    side = SideFile(a.out.rstrip("/") + ".side.jsonl")
    mid = oid = cid = did = pid = vid = 0
    attestations = [n for k, n, *_ in []]
    att_names = re.findall(r"^attestation\s+(\w+)", open(a.protocol, encoding="utf-8").read(), re.M)
    for p in range(1, a.persons + 1):
        birth = dt.date(rnd.randint(1940, 2019), rnd.randint(1, 12), rnd.randint(1, 28))
        full = rnd.random() < 0.95
        gender = rnd.choice([8507, 8532, 8532, 0])
        person.append([p, gender, birth.year, birth.month if full else "", birth.day if full else "",
                       f"{birth} 00:00:00" if full and rnd.random() < 0.5 else "", 0, 0, "", "", "", f"p{p}", "", 0, "", 0, "", 0])
        for _ in range(rnd.randint(2, 30)):
            kind = rnd.choice(["observation", "observation", "observation", "score", "condition", "condition", "drug",
                               "drug", "procedure", "vaccine", "visit", "noise", "obscond"])
            if kind in ("observation", "score") and kinds.get(kind):
                focus = [c for c in kinds["observation"] + kinds.get("score", []) if c[0] in a.focus.split(",")]
                name, unit, qual, ids, _ = rnd.choice(focus if focus and rnd.random() < 0.6 else kinds[kind])
                mid += 1
                d = screening - dt.timedelta(days=rnd.randint(-2, 35)) if rnd.random() < 0.8 else date_near(600)
                concept = rnd.choice(ids)
                if qual:
                    r = rnd.random()
                    if r < 0.6:
                        ans = answers[rnd.choice(["positive", "negative", "normal", "abnormal", "detected", "weird"])]
                        meas.append([mid, p, concept, d, f"{d} 00:00:00", "", 0, 0, "", ans, 0, "", "", "", "", "", "", concept, "", 0, "", "", ""])
                    else:
                        text = rnd.choice(["Positive", "negative (qualifier value)", "Not detected", "borderline", "??"])
                        obs_row = [None] * 0
                        oid += 1
                        obs.append([oid, p, concept, d, f"{d} 00:00:00", 0, "", text, 0, 0, 0, "", "", "", "", concept, "", "", "", "", ""])
                    continue
                base = rnd.choice([0.5, 1, 2, 5, 8, 10, 20, 30, 40, 55, 60, 92, 95, 100, 120, 200])
                value = round(base * rnd.choice([0.5, 0.9, 1, 1.0, 1.1, 2]), rnd.choice([0, 1, 2]))
                uchoice = rnd.random()
                if unit and uchoice < 0.6:
                    ucid, usv = units.get(unit, 0), unit if unit not in units else ""
                elif unit and uchoice < 0.75 and unit in ALT_UNITS:
                    alt = ALT_UNITS[unit][0]
                    ucid, usv = units.get(alt, 0), alt
                elif uchoice < 0.85:
                    ucid, usv = 0, rnd.choice(["mg/dl", "xyz", "U/L", "mmol/L"])
                else:
                    ucid, usv = 0, ""
                op = rnd.choice([0] * 8 + [4171756, 4171754, 4171755, 4172704])
                lo = hi = ""
                r = rnd.random()
                if r < 0.5:
                    hi = rnd.choice([10, 30, 40, 50, 1.2])
                    lo = rnd.choice(["", 0, 5])
                elif r < 0.55:
                    lo, hi = 50, 10
                vnum = value if rnd.random() < 0.97 else ""
                meas.append([mid, p, concept, d, f"{d} 00:00:00", "", 0, op, vnum, 0, ucid, lo, hi, "", "", "", "", concept, usv, 0, "", "", ""])
                if a.dense and rnd.random() < 0.3:
                    # Another result the same day: which is latest (earliest) is the order of rows.
                    mid += 1
                    again = round(value * rnd.choice([0.8, 1.2, 1.5]), 1)
                    meas.append([mid, p, concept, d, f"{d} 00:00:00", "", 0, 0, again, 0, ucid, lo, hi, "", "", "", "", concept, usv, 0, "", "", ""])
            elif kind == "condition" and kinds.get("condition"):
                name, _, _, ids, child = pick("condition")
                cid += 1
                s = date_near(800)
                e = s + dt.timedelta(days=rnd.randint(0, 200)) if rnd.random() < 0.5 else ""
                r = rnd.random()
                if r < 0.1:
                    concept, source, sv = 0, icd_source, "M32.9"
                elif r < 0.15:
                    concept, source, sv = 0, 0, "UNKNOWN"
                elif r < 0.45 and child:
                    concept, source, sv = child, 0, ""
                else:
                    concept, source, sv = rnd.choice(ids), 0, ""
                cond.append([cid, p, concept, s, f"{s} 00:00:00", e, "", 0, 0, "", "", "", "", sv, source, ""])
            elif kind == "drug" and kinds.get("drug"):
                name, _, _, ids, child = pick("drug")
                did += 1
                s = date_near(800)
                r = rnd.random()
                end = verbatim = supply = ""
                if r < 0.4:
                    end = s + dt.timedelta(days=rnd.randint(0, 200))
                elif r < 0.5:
                    verbatim = s + dt.timedelta(days=rnd.randint(0, 200))
                elif r < 0.75:
                    supply = rnd.choice([0, 1, 30, 90, 120])
                concept = child if child and rnd.random() < 0.4 else rnd.choice(ids)
                if rnd.random() < 0.05:
                    concept = ext_drug
                drug.append([did, p, concept, s, f"{s} 00:00:00", end, "", verbatim, 0, "", "", "", supply, "",
                             rnd.choice(routes + [0]), "", "", "", "", "", 0, "", ""])
            elif kind == "vaccine" and kinds.get("vaccine"):
                name, _, _, ids, _ = pick("vaccine")
                did += 1
                s = date_near(200)
                drug.append([did, p, rnd.choice(ids), s, f"{s} 00:00:00", s, "", "", 0, "", "", "", "", "", 0, "", "", "", "", "", 0, "", ""])
            elif kind == "procedure" and kinds.get("procedure"):
                name, _, _, ids, child = pick("procedure")
                pid += 1
                s = date_near(300)
                e = s + dt.timedelta(days=rnd.randint(0, 3)) if rnd.random() < 0.3 else ""
                concept = child if child and rnd.random() < 0.4 else rnd.choice(ids)
                proc.append([pid, p, concept, s, f"{s} 00:00:00", e, "", 0, 0, "", "", "", "", "", 0, ""])
            elif kind == "visit":
                vid += 1
                s = date_near(300)
                e = s + dt.timedelta(days=rnd.randint(0, 10)) if rnd.random() < 0.8 else ""
                visit.append([vid, p, rnd.choice([9201, 9202, 9203, 262, 0]), s, f"{s} 00:00:00", e, "", 0, "", "", "v", 0, 0, "", 0, "", ""])
            elif kind == "noise":
                cid += 1
                s = date_near(300)
                cond.append([cid, p, rnd.choice(noise_condition), s, f"{s} 00:00:00", "", "", 0, 0, "", "", "", "", "", 0, ""])
                did += 1
                drug.append([did, p, rnd.choice(noise_drug), s, f"{s} 00:00:00", "", "", "", 0, "", "", "", 10, "", 0, "", "", "", "", "", 0, "", ""])
            elif kind == "obscond":
                oid += 1
                s = date_near(1000)
                obs.append([oid, p, condition_domain_obs, s, f"{s} 00:00:00", 0, "", "", 0, 0, 0, "", "", "", "", 0, "", "", "", "", ""])
        if a.dense:
            # Several results of each --focus observation in the four weeks before screening,
            # mostly usable numbers (canonical or convertible unit), some bounds or unknown
            # units, so that computed values (latest - earliest, average) are decided.
            for name, unit, qual, ids, _ in kinds.get("observation", []) + kinds.get("score", []):
                if qual or name not in a.focus.split(",") or rnd.random() < 0.2:
                    continue
                for _ in range(rnd.randint(1, 4)):
                    mid += 1
                    d = screening - dt.timedelta(days=rnd.randint(0, 27))
                    value = round(rnd.choice([0, 0.5, 1, 2, 4, 5, 10, 30, 60, 90, 120, 150]) * rnd.choice([0.8, 1, 1.2]), 1)
                    u = rnd.random()
                    if unit and u < 0.8:
                        ucid, usv = units.get(unit, 0), unit if unit not in units else ""
                    elif unit and u < 0.9 and unit in ALT_UNITS:
                        ucid, usv = units.get(ALT_UNITS[unit][0], 0), ALT_UNITS[unit][0]
                    else:
                        ucid, usv = 0, rnd.choice(["xyz", "", "mmol/L"])
                    op = rnd.choice([0] * 12 + [4171756, 4171755])
                    hi, lo = rnd.choice([("", ""), ("", ""), (40, 10), (1.2, 0.5), (150, 90), (40, "")])
                    meas.append([mid, p, rnd.choice(ids), d, f"{d} 00:00:00", "", 0, op, value, 0, ucid, lo, hi, "", "", "", "",
                                 ids[0], usv, 0, "", "", ""])
        entry = {"patient": str(p), "anchors": {}, "attestations": {}}
        if rnd.random() < 0.9:
            entry["anchors"]["screening"] = (screening + dt.timedelta(days=rnd.randint(-5, 5))).isoformat()
        if rnd.random() < 0.5:
            entry["anchors"]["infusion"] = (screening + dt.timedelta(days=rnd.randint(10, 40))).isoformat()
        for n in att_names:
            r = rnd.random()
            if r < 0.45:
                entry["attestations"][n] = True
            elif r < 0.7:
                entry["attestations"][n] = False
            elif r < 0.75:
                entry["attestations"][n] = None
        side.append(entry)

    w("PERSON", ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
                 "race_concept_id", "ethnicity_concept_id", "location_id", "provider_id", "care_site_id", "person_source_value",
                 "gender_source_value", "gender_source_concept_id", "race_source_value", "race_source_concept_id",
                 "ethnicity_source_value", "ethnicity_source_concept_id"], person)
    w("MEASUREMENT", ["measurement_id", "person_id", "measurement_concept_id", "measurement_date", "measurement_datetime",
                      "measurement_time", "measurement_type_concept_id", "operator_concept_id", "value_as_number",
                      "value_as_concept_id", "unit_concept_id", "range_low", "range_high", "provider_id",
                      "visit_occurrence_id", "visit_detail_id", "measurement_source_value", "measurement_source_concept_id",
                      "unit_source_value", "unit_source_concept_id", "value_source_value", "measurement_event_id",
                      "meas_event_field_concept_id"], meas)
    w("OBSERVATION", ["observation_id", "person_id", "observation_concept_id", "observation_date", "observation_datetime",
                      "observation_type_concept_id", "value_as_number", "value_as_string", "value_as_concept_id",
                      "qualifier_concept_id", "unit_concept_id", "provider_id", "visit_occurrence_id", "visit_detail_id",
                      "observation_source_value", "observation_source_concept_id", "unit_source_value",
                      "qualifier_source_value", "value_source_value", "observation_event_id", "obs_event_field_concept_id"], obs)
    w("CONDITION_OCCURRENCE", ["condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
                               "condition_start_datetime", "condition_end_date", "condition_end_datetime",
                               "condition_type_concept_id", "condition_status_concept_id", "stop_reason", "provider_id",
                               "visit_occurrence_id", "visit_detail_id", "condition_source_value",
                               "condition_source_concept_id", "condition_status_source_value"], cond)
    w("DRUG_EXPOSURE", ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date",
                        "drug_exposure_start_datetime", "drug_exposure_end_date", "drug_exposure_end_datetime",
                        "verbatim_end_date", "drug_type_concept_id", "stop_reason", "refills", "quantity", "days_supply", "sig",
                        "route_concept_id", "lot_number", "provider_id", "visit_occurrence_id", "visit_detail_id",
                        "drug_source_value", "drug_source_concept_id", "route_source_value", "dose_unit_source_value"], drug)
    w("PROCEDURE_OCCURRENCE", ["procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date",
                               "procedure_datetime", "procedure_end_date", "procedure_end_datetime", "procedure_type_concept_id",
                               "modifier_concept_id", "quantity", "provider_id", "visit_occurrence_id", "visit_detail_id",
                               "procedure_source_value", "procedure_source_concept_id", "modifier_source_value"], proc)
    w("VISIT_OCCURRENCE", ["visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date", "visit_start_datetime",
                           "visit_end_date", "visit_end_datetime", "visit_type_concept_id", "provider_id", "care_site_id",
                           "visit_source_value", "visit_source_concept_id", "admitted_from_concept_id",
                           "admitted_from_source_value", "discharged_to_concept_id", "discharged_to_source_value",
                           "preceding_visit_occurrence_id"], visit)
    w("CONCEPT", ["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept",
                  "concept_code", "valid_start_date", "valid_end_date", "invalid_reason"], concept_rows)
    w("CONCEPT_ANCESTOR", ["ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation",
                           "max_levels_of_separation"], [] if a.no_ancestors else ancestor_rows)
    w("CONCEPT_RELATIONSHIP", ["concept_id_1", "concept_id_2", "relationship_id", "valid_start_date", "valid_end_date",
                               "invalid_reason"], rel_rows)
    side.f.close()


if __name__ == "__main__":
    main()
