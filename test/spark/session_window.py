"""Runs traces through Spark's session_window query, one micro-batch per batch of a trace.

Usage: python session_window.py <input.json> <output.json>

The input (written by test/spark/session-window.test.ts) holds:
  traces: [[[<JSON text of a record>, ...], ...]]  per trace, its batches: each batch is one file,
                                                   read as one micro-batch of that trace's query
  gap, delay: "5 minutes", "10 minutes"           session_window gap and withWatermark delay
The query is the session form of the seed's job:
  from_json(value, "user STRING, amount DOUBLE, event_time TIMESTAMP")
    .withWatermark("event_time", delay)
    .groupBy(session_window("event_time", gap), "user")
    .agg(sum("amount").alias("total"), count(lit(1)).alias("n"), max("amount").alias("top"))
written with to_json(struct(*)) in append mode, one query per trace in one JVM. The output holds,
per trace, the rows in the order they came out, each with the index of the batch after which it
was there, and the watermark after each batch.
"""

import json
import os
import sys
import tempfile

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(input_path, output_path):
    with open(input_path, encoding="utf-8") as f:
        spec = json.load(f)
    spark = (
        SparkSession.builder.appName("sparkless-session-window")
        .master("local[1]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    runs = [run_trace(spark, spec, batches) for batches in spec["traces"]]
    with open(output_path, "w", encoding="utf-8") as f:
        json.dump({"spark": spark.version, "runs": runs}, f)


def run_trace(spark, spec, batches):
    with tempfile.TemporaryDirectory() as base:
        source = os.path.join(base, "in")
        os.makedirs(source)
        lines = spark.readStream.option("maxFilesPerTrigger", 1).text(source)
        parsed = lines.select(
            F.from_json("value", "user STRING, amount DOUBLE, event_time TIMESTAMP").alias("r")
        ).select("r.*")
        sessions = (
            parsed.withWatermark("event_time", spec["delay"])
            .groupBy(F.session_window("event_time", spec["gap"]), "user")
            .agg(
                F.sum("amount").alias("total"),
                F.count(F.lit(1)).alias("n"),
                F.max("amount").alias("top"),
            )
        )
        name = f"sessions_{abs(hash(base))}"
        query = (
            sessions.select(F.to_json(F.struct("*")).alias("v"))
            .writeStream.outputMode("append")
            .format("memory")
            .queryName(name)
            .option("checkpointLocation", os.path.join(base, "checkpoint"))
            .start()
        )
        rows, watermarks, seen = [], [], 0
        for i, batch in enumerate(batches):
            with open(os.path.join(source, f"batch-{i:04d}.json"), "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in batch))
            query.processAllAvailable()  # the batch, then the no-data batch its watermark allows
            values = [r.v for r in spark.sql(f"SELECT v FROM {name}").collect()]
            rows += [{"batch": i, "value": v} for v in values[seen:]]
            seen = len(values)
            watermarks.append(query.lastProgress["eventTime"].get("watermark"))
        query.stop()
        return {"rows": rows, "watermarks": watermarks}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
