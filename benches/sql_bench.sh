#!/usr/bin/env bash
# The SQL benchmark (docs/performance.md#sql-on-postgresql): N generated persons as an OMOP
# CSV export, loaded into PostgreSQL; the seed protocol screened by the interpreter on the
# CSV files and by the compiled SQL on the server (`eligc run --db`), each RUNS times; the
# median wall time of each. Usage:
#   ELIGC_PG_URL=postgresql://... benches/sql_bench.sh [PERSONS] [RUNS]
# With EXPLAIN=1, each run also times `--format json` both ways (run --db then explains
# every person from their rows fetched; docs/sql.md) and checks the JSON is the same
# (about 21 KB a person, twice: 4 GB in $TMPDIR at 100,000).
# Needs a release build (cargo build --release), python3 and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
RUNS="${2:-3}"
URL="${ELIGC_PG_URL:?set ELIGC_PG_URL (e.g. export ELIGC_PG_URL=\$(.ci/postgres))}"
E="${ELIGC:-target/release/eligc}"
P=protocols/sle-car-t/protocol.elig
DIR="${TMPDIR:-/tmp}/eligc-sqlbench-$N"
SCHEMA="bench_$N"
FOCUS="lvef,egfr,ast,alt,bilirubin_total,spo2,sledai_2k,eular_acr_2019_sle,hbsag,anti_hbc,hbv_dna,anti_hcv,hcv_rna,hiv_ab,syphilis_test,hcg_serum,hcg_urine,ecg_interpretation,body_weight"
if [ ! -f "$DIR/PERSON.csv" ]; then
  /usr/bin/time -f "generate: %e s" python3 benches/gen_omop.py --persons "$N" --seed 1 --out "$DIR" --focus "$FOCUS"
fi
ROWS=$(cat "$DIR"/{MEASUREMENT,OBSERVATION,CONDITION_OCCURRENCE,DRUG_EXPOSURE,PROCEDURE_OCCURRENCE,VISIT_OCCURRENCE}.csv | wc -l)
echo "persons: $N, clinical rows: $ROWS, CSV size: $(du -sh "$DIR" | cut -f1)"
# Load (types as the CDM's; COPY).
start=$(date +%s.%N)
python3 - "$URL" "$SCHEMA" "$DIR" <<'PY'
import csv, os, subprocess, sys
url, schema, d = sys.argv[1:4]
def typ(c):
    if c.endswith("_datetime"): return "TIMESTAMP"
    if c.endswith("_date"): return "DATE"
    if c in ("value_as_number", "range_low", "range_high", "quantity"): return "NUMERIC"
    if c in ("concept_id_1", "concept_id_2"): return "BIGINT"
    if c.endswith("_id") and c not in ("vocabulary_id", "domain_id", "concept_class_id", "relationship_id"): return "BIGINT"
    if c in ("year_of_birth", "month_of_birth", "day_of_birth", "days_supply", "refills", "min_levels_of_separation", "max_levels_of_separation"): return "INT"
    return "TEXT"
sql = [f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"]
for t in ["person", "measurement", "observation", "condition_occurrence", "drug_exposure", "procedure_occurrence", "visit_occurrence", "concept", "concept_ancestor", "concept_relationship"]:
    f = os.path.join(d, t.upper() + ".csv")
    header = next(csv.reader(open(f)))
    sql.append(f"CREATE TABLE {schema}.{t} ({', '.join(c + ' ' + typ(c) for c in header)});")
    sql.append(f"\\copy {schema}.{t} FROM '{f}' WITH (FORMAT csv, HEADER true)")
    sql.append(f"ANALYZE {schema}.{t};")
subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input="\n".join(sql), text=True, check=True)
PY
echo "load into PostgreSQL: $(echo "$(date +%s.%N) - $start" | bc) s"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
interp=(); sql=(); interp_mb=(); sql_mb=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -o /tmp/eligc-sqlbench-time -f "%e %M" "$E" run "$P" "$DIR" --side "$DIR.side.jsonl" --anchor screening=2024-06-01 --format csv > /tmp/eligc-sqlbench-interp.csv 2>/tmp/eligc-sqlbench-interp.err || { echo "the interpreter failed:"; tail -3 /tmp/eligc-sqlbench-interp.err; exit 1; }
  read -r t m < /tmp/eligc-sqlbench-time; interp+=("$t"); interp_mb+=("$((m / 1024))")
  echo "run $i: interpreter $t s, peak $((m / 1024)) MB"
  /usr/bin/time -o /tmp/eligc-sqlbench-time -f "%e %M" "$E" run "$P" --db "$URL" --schema "$SCHEMA" --side "$DIR.side.jsonl" --anchor screening=2024-06-01 --format csv > /tmp/eligc-sqlbench-sql.csv 2>/tmp/eligc-sqlbench-sql.err || { echo "the SQL run failed:"; tail -3 /tmp/eligc-sqlbench-sql.err; exit 1; }
  read -r t m < /tmp/eligc-sqlbench-time; sql+=("$t"); sql_mb+=("$((m / 1024))")
  echo "run $i: SQL $t s, eligc's peak $((m / 1024)) MB"
  if [ "${EXPLAIN:-0}" = 1 ]; then
    J="${TMPDIR:-/tmp}/eligc-sqlbench"
    /usr/bin/time -o /tmp/eligc-sqlbench-time -f "%e %M" "$E" run "$P" "$DIR" --side "$DIR.side.jsonl" --anchor screening=2024-06-01 --format json > "$J-interp.json" 2>/dev/null || [ $? = 3 ]
    read -r t m < /tmp/eligc-sqlbench-time
    echo "run $i: interpreter --format json $t s, peak $((m / 1024)) MB"
    /usr/bin/time -o /tmp/eligc-sqlbench-time -f "%e %M" "$E" run "$P" --db "$URL" --schema "$SCHEMA" --side "$DIR.side.jsonl" --anchor screening=2024-06-01 --format json > "$J-sql.json" 2>/tmp/eligc-sqlbench-sql.err || { echo "the SQL run with --format json failed:"; tail -3 /tmp/eligc-sqlbench-sql.err; exit 1; }
    read -r t m < /tmp/eligc-sqlbench-time
    echo "run $i: SQL --format json $t s, eligc's peak $((m / 1024)) MB"
    if cmp -s <(sort "$J-interp.json") <(sort "$J-sql.json"); then echo "same JSON: yes"; else echo "same JSON: NO"; exit 1; fi
    rm -f "$J-interp.json" "$J-sql.json"
  fi
done
echo "interpreter on the CSV export (eligc run $P DIR): ${interp[*]} s, median $(printf '%s\n' "${interp[@]}" | median) s, peak RSS ${interp_mb[*]} MB"
echo "SQL on PostgreSQL (eligc run $P --db URL): ${sql[*]} s, median $(printf '%s\n' "${sql[@]}" | median) s, eligc's peak RSS ${sql_mb[*]} MB"
if cmp -s <(sort /tmp/eligc-sqlbench-interp.csv) <(sort /tmp/eligc-sqlbench-sql.csv); then
  echo "same CSV output: yes"
else
  echo "same CSV output: NO"; exit 1
fi
