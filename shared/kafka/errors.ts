/** Bad Kafka settings: fails at start with a message that says what to fix. */
export class KafkaConfigurationError extends Error {
  override readonly name = "KafkaConfigurationError";
}
