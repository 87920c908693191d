/**
 * The shared service kit: what every service (order, inventory, coupon,
 * point) needs and nothing more (STYLE: a small common kit). Configuration
 * and logs; the HTTP app, errors, auth and validation; the inbox consumer
 * with retries and dead letters. Publishing goes through `appendOutbox()` of
 * db/mod.ts, inside the service's transaction.
 *
 * @module
 */
export {
  ConfigError,
  envBool,
  envInt,
  envString,
  type InfraConfig,
  infraConfig,
  jwtSecret,
  pgAddress,
} from "./env.ts";
export { createLogger, type Level, type Logger } from "./log.ts";
export * from "./http/mod.ts";
export {
  type ConsumerCounters,
  type EventHandler,
  type EventHandlers,
  PoisonMessageError,
  type RetryOptions,
  type RunningConsumer,
  startConsumer,
  type StartConsumerOptions,
} from "./consumer.ts";
export {
  type EventEnvelope,
  type ParsedEnvelope,
  parseEnvelope,
  type PoisonReason,
} from "./envelope.ts";
export { deadLetterOf, DLQ_HEADERS, type Failure } from "./dead_letter.ts";
export { isDatabaseUnavailable } from "./db_unavailable.ts";
export { InvalidPayloadError, parsePayload } from "./payload.ts";
export {
  type KnownAnswer,
  type ReservationNames,
  type ReservationRecord,
  type ReservationRules,
  reservationRules,
  type ReservationState,
  type RestoreStep,
} from "./reservation.ts";
export {
  type Breaker,
  BreakerOpenError,
  type BreakerOptions,
  type BreakerPolicy,
  type BreakerSnapshot,
  breakerSnapshots,
  type BreakerState,
  COUPON_BREAKER,
  createBreaker,
  STOCK_BREAKER,
} from "./breaker.ts";
