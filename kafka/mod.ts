/**
 * Our Kafka layer. Import from here, never from kafkajs directly.
 *
 * @module
 */
export { createKafka, type KafkaJs, type KafkaOptions, parseBrokers } from "./client.ts";
export { decodeHeaders, type IncomingMessage, type OutgoingMessage, valueText } from "./message.ts";
export { DEFAULT_PARTITION_BATCH_BYTES, recordBytes } from "./partition_budget.ts";
export {
  type Compression,
  IdempotentProducer,
  isConcurrentTransactionsError,
  isFencingError,
  ProducerClosedError,
  ProducerFencedError,
  type TopicBatch,
  TransactionalProducer,
  type TransactionOffsets,
  type TransactionScope,
} from "./producer.ts";
export {
  secondTransactionalId,
  TransactionalProducerPair,
  type TransactionalSender,
} from "./producer_pair.ts";
export {
  Consumer,
  type ConsumerOptions,
  type MessageContext,
  type MessageHandler,
} from "./consumer.ts";
export { Admin, type TopicReport } from "./admin.ts";
export {
  allTopics,
  dlqTopicOf,
  EVENT_TOPICS,
  RELAY_CHECKPOINT_TOPIC,
  RELAY_DLQ_TOPIC,
  RELAY_TOPICS,
  REPLICATION,
  type TopicSpec,
} from "./topics.ts";
