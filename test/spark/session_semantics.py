"""Spark 3.5.7's session_window semantics, one micro-batch per file (what shared/engine/sessions.ts
records). Usage: python session_semantics.py <append|update> <batches.json>, where batches.json is
[{"note": "...", "events": [{"user", "amount", "event_time"}]}, ...]; prints the watermark after
each batch and the rows each emitted."""
import json, os, shutil, sys
from pyspark.sql import SparkSession, functions as F
base = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sparkless-session-semantics")
shutil.rmtree(base, ignore_errors=True)
os.makedirs(base + "/in")
spark = (SparkSession.builder.master("local[1]").config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
    .config("spark.sql.adaptive.enabled", "false")
    .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    .config("spark.ui.showConsoleProgress", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
print("SPARK", spark.version)
schema = "user STRING, amount DOUBLE, event_time TIMESTAMP, tag STRING"
src = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).json(base + "/in")
agg = (src.withWatermark("event_time", "10 minutes")
    .groupBy(F.session_window("event_time", "5 minutes"), "user")
    .agg(F.sum("amount").alias("total"), F.count(F.lit(1)).alias("n")))
out = agg.select(F.to_json(F.struct("*")).alias("v"))
q = (out.writeStream.outputMode(sys.argv[1] if len(sys.argv) > 1 else "append").format("memory").queryName("o")
     .option("checkpointLocation", base + "/ckpt").start())
batches = json.load(open(sys.argv[2]))
seen = 0
for i, b in enumerate(batches):
    with open(f"{base}/in/b{i:03d}.json", "w") as f:
        for e in b["events"]:
            f.write(json.dumps(e) + "\n")
    q.processAllAvailable()
    rows = [r.v for r in spark.sql("select v from o").collect()]
    print(f"after batch {i} ({b.get('note','')}): wm={q.lastProgress['eventTime'].get('watermark') if q.lastProgress else None}")
    for r in rows[seen:]:
        print("   EMIT", r)
    seen = len(rows)
q.stop()
