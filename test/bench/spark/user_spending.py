"""The seed's PySpark job (user spending per 5-minute window), for the end-to-end bench.

Same query as the seed's "Full Working Example": from_json with the seed's schema, a 10-minute
watermark, 5-minute tumbling windows by user, sum(amount) AS total_spent, append mode, key = user,
value = to_json(struct(*)). Only the connection is parameterised, through the environment:

  KAFKA_BOOTSTRAP    host:port of the broker
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA (PEM)
                     SASL_SSL with SCRAM-SHA-512 (as MSK); all unset: PLAINTEXT
  INPUT_TOPIC, OUTPUT_TOPIC, CHECKPOINT_DIR

Prints "QUERY_STARTED <epoch ms>" when the query runs, for the bench's clock, and a "BATCH" line
per micro-batch (rows, duration, watermark) for the log.
"""

import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json, sum, window
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType


def kafka_options():
    options = {"kafka.bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"]}
    username = os.environ.get("KAFKA_SASL_USERNAME")
    if username:
        password = os.environ["KAFKA_SASL_PASSWORD"]
        options.update(
            {
                "kafka.security.protocol": "SASL_SSL",
                "kafka.sasl.mechanism": "SCRAM-SHA-512",
                "kafka.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule"
                f' required username="{username}" password="{password}";',
                "kafka.ssl.truststore.type": "PEM",
                "kafka.ssl.truststore.location": os.environ["KAFKA_SSL_CA"],
            }
        )
    return options


spark = (
    SparkSession.builder.appName("user-spending")
    .master("local[2]")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("WARN")


class BatchLog(StreamingQueryListener):
    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        print(
            f"BATCH {p.batchId} rows={p.numInputRows} ms={p.batchDuration}"
            f" durations={p.durationMs} watermark={p.eventTime.get('watermark')}",
            flush=True,
        )

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


spark.streams.addListener(BatchLog())

schema = StructType(
    [
        StructField("user", StringType()),
        StructField("action", StringType()),
        StructField("amount", DoubleType()),
        StructField("event_time", TimestampType()),
    ]
)

# Read from Kafka
df = (
    spark.readStream.format("kafka")
    .options(**kafka_options())
    .option("subscribe", os.environ["INPUT_TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
)

# Parse JSON
json = df.select(from_json(col("value").cast("string"), schema).alias("data"), "timestamp")
parsed = json.select("data.*", "timestamp")

# Aggregation with windows
agg = (
    parsed.withWatermark("event_time", "10 minutes")
    .groupBy(window("event_time", "5 minutes"), "user")
    .agg(sum("amount").alias("total_spent"))
)

# Write back to Kafka
query = (
    agg.selectExpr("CAST(user AS STRING) AS key", "to_json(struct(*)) AS value")
    .writeStream.format("kafka")
    .options(**kafka_options())
    .option("topic", os.environ["OUTPUT_TOPIC"])
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .start()
)
print(f"QUERY_STARTED {int(time.time() * 1000)}", flush=True)
query.awaitTermination()
sys.exit(0)
