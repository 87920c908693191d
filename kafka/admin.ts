/**
 * Cluster administration the tooling and tests need: create topics exactly
 * as specified, read offsets and topic metadata.
 *
 * @module
 */
import { brokersOf, createKafka, type KafkaJs } from "./client.ts";
import { REPLICATION, type TopicSpec } from "./topics.ts";

type RawAdmin = ReturnType<KafkaJs["admin"]>;

export interface TopicReport {
  name: string;
  created: boolean;
  partitions: number;
}

export class Admin {
  #admin: RawAdmin;
  #brokers: string[];

  constructor(kafka: KafkaJs) {
    this.#admin = kafka.admin();
    this.#brokers = brokersOf(kafka);
  }

  connect(): Promise<void> {
    return this.#admin.connect();
  }

  disconnect(): Promise<void> {
    return this.#admin.disconnect();
  }

  /**
   * Creates missing topics and brings existing ones to the spec: partitions
   * are added where fewer exist (never removed: that would move keys), and
   * retention and replication configs are set. Idempotent.
   */
  async ensureTopics(specs: readonly TopicSpec[]): Promise<TopicReport[]> {
    const existing = new Set(await this.#admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    if (missing.length > 0) {
      await this.#admin.createTopics({
        // kafkajs' own wait gives up on UNKNOWN_TOPIC_OR_PARTITION from a
        // broker that has not seen the new topic yet (KRaft); waitForLeaders
        // below retries until every partition has a leader.
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: REPLICATION.replicationFactor,
          configEntries: Object.entries(configOf(s)).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const present = specs.filter((s) => existing.has(s.name));
    if (present.length > 0) {
      const meta = await this.#admin.fetchTopicMetadata({ topics: present.map((s) => s.name) });
      const grow = present.filter((s) => {
        const t = meta.topics.find((m) => m.name === s.name);
        return t !== undefined && t.partitions.length < s.partitions;
      });
      if (grow.length > 0) {
        await this.#admin.createPartitions({
          topicPartitions: grow.map((s) => ({ topic: s.name, count: s.partitions })),
        });
      }
      await this.#admin.alterConfigs({
        validateOnly: false,
        resources: present.map((s) => ({
          type: 2, // ConfigResourceTypes.TOPIC
          name: s.name,
          configEntries: Object.entries(configOf(s)).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const after = await this.waitForLeaders(specs.map((s) => s.name));
    return specs.map((s) => ({
      name: s.name,
      created: missing.includes(s),
      partitions: after.topics.find((t) => t.name === s.name)?.partitions.length ?? 0,
    }));
  }

  /** Names of all topics in the cluster. */
  listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }

  /**
   * Polls metadata until every partition of the topics has a leader, as seen
   * by EVERY broker: right after creation a broker that has not caught up
   * answers "This server does not host this topic-partition", and a producer
   * or consumer that asks it first fails (seen on fresh clusters).
   */
  async waitForLeaders(topics: string[], timeoutMs = 30_000) {
    const meta = await waitForLeadersOn(this.#admin, topics, timeoutMs);
    for (const broker of this.#brokers) {
      const one = createKafka({ brokers: [broker], clientId: "leader-check", logLevel: "nothing" })
        .admin();
      await one.connect();
      try {
        await waitForLeadersOn(one, topics, timeoutMs);
      } finally {
        await one.disconnect();
      }
    }
    return meta;
  }

  /** Partition count, replicas and in-sync replicas of each partition. */
  async describeTopic(topic: string): Promise<
    { partition: number; leader: number; replicas: number[]; isr: number[] }[]
  > {
    const meta = await this.#admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0].partitions.map((p) => ({
      partition: p.partitionId,
      leader: p.leader,
      replicas: p.replicas,
      isr: p.isr,
    }));
  }

  /**
   * How many of the topics' partitions each broker leads (broker id → count).
   * Placement matters on one host: a relay transaction costs Kafka a request
   * per leader it touches (README, the saga benchmark).
   */
  async leadersPerBroker(topics: string[]): Promise<Record<string, number>> {
    const meta = await this.#admin.fetchTopicMetadata({ topics });
    const out: Record<string, number> = {};
    for (const t of meta.topics) {
      for (const p of t.partitions) out[p.leader] = (out[p.leader] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => Number(a) - Number(b)));
  }

  /** Broker-side config values of a topic. */
  async topicConfig(topic: string): Promise<Record<string, string>> {
    const res = await this.#admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic }],
    });
    const out: Record<string, string> = {};
    for (const e of res.resources[0].configEntries) out[e.configName] = e.configValue;
    return out;
  }

  /** Latest offsets (high watermarks) per partition. */
  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  async createTopic(
    name: string,
    partitions: number,
    config: Record<string, string> = {},
  ): Promise<boolean> {
    const created = await this.#admin.createTopics({
      waitForLeaders: false,
      topics: [{
        topic: name,
        numPartitions: partitions,
        replicationFactor: REPLICATION.replicationFactor,
        configEntries: Object.entries({ ...REPLICATION.config, ...config }).map(([n, value]) => ({
          name: n,
          value,
        })),
      }],
    });
    await this.waitForLeaders([name]);
    return created;
  }

  deleteTopics(names: string[]): Promise<void> {
    return this.#admin.deleteTopics({ topics: names });
  }
}

function configOf(s: TopicSpec): Record<string, string> {
  return {
    ...REPLICATION.config,
    "retention.ms": String(s.retentionMs),
    ...s.config,
  };
}

async function waitForLeadersOn(admin: RawAdmin, topics: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const ready = meta.topics.length === topics.length &&
        meta.topics.every((t) =>
          t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)
        );
      if (ready) return meta;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics without leaders after ${timeoutMs} ms: ${topics}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
