import { type KafkaConnection, kafkaConnectionFromEnv } from "../../shared/kafka/connection.ts";
import { LocalServerError } from "../errors.ts";
import { readState } from "../servers.ts";

/** The Kafka a CLI tool talks to: `KAFKA_BROKERS` if set, else the running local servers. */
export function toolConnection(): KafkaConnection {
  const external = kafkaConnectionFromEnv(process.env);
  if (external) return external;
  const running = readState("dev");
  if (running?.kafka) return running.kafka.connection;
  throw new LocalServerError(
    "No Kafka to talk to: start the local servers ('npm start' or 'npm run infra:up') or set KAFKA_BROKERS.",
  );
}
