#!/usr/bin/env python3
"""Runs `eligc sql --dialect spark` scripts on Spark SQL in local mode (pyspark): loads OMOP
CSV exports as temporary views, the side file as the parameter views, runs each script and
writes each result as JSON Lines in `eligc run --format json`'s shape (id, verdict,
criteria[id, outcome, unplaced], unplaced_facts). One Spark session for every job, since Spark takes seconds to start:

    python3 benches/spark_check.py JOB.json [JOB.json ...]

where each job is {"script": PATH, "omop": DIR, "side": PATH or null, "out": PATH}.
"""
import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DateType, LongType, StringType, StructField, StructType

TABLES = ["person", "measurement", "observation", "condition_occurrence", "drug_exposure",
          "procedure_occurrence", "visit_occurrence", "concept", "concept_ancestor", "concept_relationship"]


def typ(c):
    if c.endswith("_datetime"):
        return "timestamp"
    if c.endswith("_date"):
        return "date"
    if c in ("value_as_number", "range_low", "range_high", "quantity"):
        return "decimal(38,12)"
    if c in ("concept_id_1", "concept_id_2") or (c.endswith("_id") and c not in (
            "vocabulary_id", "domain_id", "concept_class_id", "relationship_id")):
        return "bigint"
    if c in ("year_of_birth", "month_of_birth", "day_of_birth", "days_supply", "refills",
             "min_levels_of_separation", "max_levels_of_separation"):
        return "int"
    return "string"


def load(spark, d):
    files = {f.lower().rsplit(".", 1)[0]: f for f in os.listdir(d)}
    for t in TABLES:
        df = spark.read.option("header", True).option("inferSchema", False).csv(os.path.join(d, files[t]))
        df = df.select([F.col(c).cast(typ(c)).alias(c) for c in df.columns])
        df.createOrReplaceTempView(t)


def side_views(spark, path):
    anchors, atts = [], []
    if path:
        for line in open(path):
            e = json.loads(line)
            try:
                pid = int(e["patient"])
            except ValueError:
                continue
            for k, v in e.get("anchors", {}).items():
                anchors.append((pid, k, __import__("datetime").date.fromisoformat(v)))
            for k, v in e.get("attestations", {}).items():
                if isinstance(v, dict):
                    v = v.get("value")
                atts.append((pid, k, v))
    spark.createDataFrame(anchors, StructType([StructField("person_id", LongType()), StructField("anchor", StringType()),
                                               StructField("anchor_date", DateType())])).createOrReplaceTempView("eligc_anchor")
    spark.createDataFrame(atts, StructType([StructField("person_id", LongType()), StructField("attestation", StringType()),
                                            StructField("value", BooleanType())])).createOrReplaceTempView("eligc_attestation")


def run(spark, job):
    load(spark, job["omop"])
    side_views(spark, job.get("side"))
    script = open(job["script"]).read()
    for statement in script.split(";\n"):
        body = "\n".join(l for l in statement.splitlines() if not l.startswith("--")).strip()
        if not body or body.startswith("CREATE TABLE IF NOT EXISTS"):
            continue
        spark.sql(body)
        if body.startswith("CREATE OR REPLACE TEMPORARY VIEW eligc_result"):
            break
    rows = spark.sql("SELECT * FROM eligc_result ORDER BY person_id").collect()
    with open(job["out"], "w") as out:
        for r in rows:
            d = r.asDict()
            unplaced = (d.get("unplaced_criteria") or "").split()
            criteria = []
            for k, v in d.items():
                if k in ("person_id", "verdict", "unplaced_criteria", "unplaced_facts"):
                    continue
                c = {"id": k, "outcome": v.replace(" ", "_")}
                if k in unplaced:
                    c["unplaced"] = True
                criteria.append(c)
            out.write(json.dumps({"id": str(d["person_id"]), "verdict": d["verdict"].replace(" ", "_"), "criteria": criteria,
                                  "unplaced_facts": int(d["unplaced_facts"])}) + "\n")
    print(f"{job['out']}: {len(rows)} persons", file=sys.stderr)


def main():
    spark = (SparkSession.builder.master("local[2]").appName("eligc-sql")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.warehouse.dir", os.environ.get("ELIGC_SPARK_WAREHOUSE") or __import__("tempfile").mkdtemp(prefix="eligc-spark-"))
             .config("spark.driver.memory", os.environ.get("ELIGC_SPARK_MEMORY", "1g")).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    for path in sys.argv[1:]:
        run(spark, json.load(open(path)))
    spark.stop()


if __name__ == "__main__":
    main()
