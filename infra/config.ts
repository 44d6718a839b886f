import type { Node } from "constructs";

/** Deployment settings, read from the CDK context (`cdk.json` or `-c key=value`). */
export interface SparklessConfig {
  /** The pipeline to deploy (a name from `shared/pipelines/`). */
  readonly pipeline: string;
  readonly cluster: NewCluster | ExistingCluster;
  readonly functions: {
    readonly memoryMb: number;
    readonly timeoutSeconds: number;
    readonly logRetentionDays: number;
  };
  /** Partitions and replicas of the topics the stack creates. */
  readonly topics: {
    /**
     * Partitions of each source topic: a new cluster's topics are created with this many; for an
     * existing cluster it is what its topics have, if given. The window function's watermark
     * waits for every source partition (issue 14), so it must know how many there are.
     */
    readonly sourcePartitions: number;
    /** `sourcePartitions` was given, or the stack creates the topics with it (a new cluster). */
    readonly sourcePartitionsKnown: boolean;
    readonly replicationFactor: number;
  };
  /** An SSM-reachable instance in the new cluster's VPC, to reach the brokers from outside. */
  readonly bastion: boolean;
  /** Provisioned pollers for steady latency (ESM provisioned mode); absent: on-demand. */
  readonly pollers: { readonly min: number; readonly max: number } | undefined;
  /** Translate a declarative filter into Lambda event filtering (see README § Deploy). */
  readonly eventFiltering: boolean;
  readonly flushEveryMinutes: number;
  readonly alarms: {
    /** ESM OffsetLag and MSK MaxOffsetLag above this many records. */
    readonly offsetLag: number;
    /** MSK EstimatedMaxTimeLag above this many seconds. */
    readonly timeLagSeconds: number;
    /** Send alarms to this e-mail address through an SNS topic. */
    readonly email: string | undefined;
  };
}

export interface NewCluster {
  readonly mode: "new";
  /** Availability zones of the VPC and the brokers (3, or 2 where a region has two). */
  readonly zones: 2 | 3;
  readonly kafkaVersion: string;
  readonly instanceType: string;
  readonly brokers: number;
  readonly volumeGiB: number;
}

/** How the mappings and functions log in to an existing cluster. */
export type ClusterLogin =
  | {
      readonly kind: "scram";
      /** The `AmazonMSK_` SCRAM secret associated with the cluster. */
      readonly secretArn: string;
      /** The customer-managed KMS key that encrypts that secret (the functions decrypt with it). */
      readonly secretKeyArn: string;
    }
  /** MSK IAM access control: each role is granted `kafka-cluster:*` actions, no secret. */
  | { readonly kind: "iam" };

/** An MSK cluster you already run; everything synth needs is given, so synth does no lookups. */
export interface ExistingCluster {
  readonly mode: "existing";
  readonly clusterArn: string;
  readonly clusterName: string;
  /** MSK Serverless (IAM access control only) rather than a provisioned cluster. */
  readonly serverless: boolean;
  readonly login: ClusterLogin;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly availabilityZones: readonly string[];
  /** A security group that the brokers admit (the functions join it). */
  readonly securityGroupId: string;
}

/** A context setting that cannot be used; synth stops with this message. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const PREFIX = "sparkless:";

/** Lambda's limit for functions that Kafka event-source mappings invoke (14 minutes). */
export const MAX_KAFKA_FUNCTION_TIMEOUT_SECONDS = 840;

/**
 * Retentions CloudWatch Logs accepts.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
 */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/**
 * Settings that would give a mapping an on-failure destination or cap its retries. By design
 * there are none: with a destination and unlimited retries Lambda caps retries at 10 and then
 * commits past the batch, i.e. drops it from the pipeline (README § Deploy, failure handling).
 */
const REFUSED_KEYS = [
  "onFailureDestination",
  "onFailure",
  "destination",
  "maximumRetryAttempts",
  "maxRetryAttempts",
  "retryAttempts",
  "maximumRecordAgeSeconds",
  "maxRecordAgeSeconds",
  "bisectBatchOnError",
];

/** Reads and validates the settings; every mistake is reported with the context key to fix. */
export function readConfig(node: Node): SparklessConfig {
  const get = (key: string): unknown => node.tryGetContext(`${PREFIX}${key}`);
  const text = (key: string, fallback?: string): string => {
    const value = get(key) ?? fallback;
    if (typeof value !== "string" || value.trim() === "") {
      throw new ConfigError(`context '${PREFIX}${key}' is required (a non-empty string)`);
    }
    return value.trim();
  };
  const number = (key: string, fallback: number, min: number, max: number): number => {
    const raw = get(key) ?? fallback;
    const value = typeof raw === "string" ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(
        `context '${PREFIX}${key}' must be a whole number from ${min} to ${max}, got '${String(raw)}'`,
      );
    }
    return value;
  };
  const list = (key: string): string[] => {
    const raw = get(key);
    const values = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : [];
    const items = values.map((v) => String(v).trim()).filter((v) => v.length > 0);
    if (items.length === 0)
      throw new ConfigError(`context '${PREFIX}${key}' is required (a comma-separated list)`);
    return items;
  };
  const flag = (key: string): boolean => {
    const raw = get(key) ?? false;
    if (raw === true || raw === "true") return true;
    if (raw === false || raw === "false") return false;
    throw new ConfigError(`context '${PREFIX}${key}' must be true or false, got '${String(raw)}'`);
  };

  for (const key of REFUSED_KEYS) {
    if (get(key) !== undefined) {
      throw new ConfigError(
        `context '${PREFIX}${key}' is not supported: sparkless mappings have no on-failure destination and no retry cap by design (a failed batch is retried until it succeeds and the lag alarms fire); remove the setting`,
      );
    }
  }

  const mode = get("clusterMode") ?? "new";
  let cluster: SparklessConfig["cluster"];
  if (mode === "new") {
    for (const [key, allowed] of [
      ["auth", "scram"],
      ["clusterType", "provisioned"],
    ] as const) {
      const value = get(key);
      if (value !== undefined && value !== allowed) {
        throw new ConfigError(
          `context '${PREFIX}${key}=${String(value)}' needs '${PREFIX}clusterMode=existing': a cluster this stack creates is provisioned with SASL/SCRAM (IAM and Serverless are supported for existing clusters)`,
        );
      }
    }
    const zones = get("zones") ?? 3;
    if (zones !== 2 && zones !== 3 && zones !== "2" && zones !== "3") {
      throw new ConfigError(
        `context '${PREFIX}zones' must be 3 (or 2 in a region with two availability zones), got '${String(zones)}'`,
      );
    }
    const zoneCount = Number(zones) as 2 | 3;
    const brokers = number("brokers", zoneCount, zoneCount, 30);
    cluster = {
      mode,
      zones: zoneCount,
      kafkaVersion: text("kafkaVersion", "3.9.x"),
      instanceType: text("brokerInstanceType", "kafka.m7g.large"),
      brokers,
      volumeGiB: number("brokerVolumeGiB", 100, 1, 16_384),
    };
    // MSK places the same number of brokers in every zone.
    if (brokers % zoneCount !== 0)
      throw new ConfigError(
        `context '${PREFIX}brokers' must be a multiple of the ${zoneCount} availability zones ('${PREFIX}zones'), got ${brokers}`,
      );
  } else if (mode === "existing") {
    const clusterArn = text("clusterArn");
    const match = /^arn:aws[\w-]*:kafka:[\w-]+:\d{12}:cluster\/([\w-]+)\/[\w-]+$/.exec(clusterArn);
    if (!match)
      throw new ConfigError(
        `context '${PREFIX}clusterArn' is not an MSK cluster ARN: '${clusterArn}'`,
      );
    const clusterType = get("clusterType") ?? "provisioned";
    if (clusterType !== "provisioned" && clusterType !== "serverless") {
      throw new ConfigError(
        `context '${PREFIX}clusterType' must be 'provisioned' or 'serverless', got '${String(clusterType)}'`,
      );
    }
    const serverless = clusterType === "serverless";
    // https://docs.aws.amazon.com/msk/latest/developerguide/serverless.html: IAM only.
    if (serverless && (get("auth") === "scram" || get("secretArn") !== undefined)) {
      throw new ConfigError(
        `context '${PREFIX}clusterType=serverless' rules out SASL/SCRAM: MSK Serverless accepts IAM access control only (use '${PREFIX}auth=iam' and no '${PREFIX}secretArn')`,
      );
    }
    const auth = get("auth") ?? (serverless ? "iam" : "scram");
    let login: ClusterLogin;
    if (auth === "iam") {
      for (const key of ["secretArn", "secretKeyArn"]) {
        if (get(key) !== undefined) {
          throw new ConfigError(
            `context '${PREFIX}${key}' is not used with '${PREFIX}auth=iam' (IAM access control has no secret): remove it`,
          );
        }
      }
      login = { kind: "iam" };
    } else if (auth === "scram") {
      const secretArn = text("secretArn");
      if (!/:secret:AmazonMSK_/.test(secretArn)) {
        throw new ConfigError(
          `context '${PREFIX}secretArn' must be a Secrets Manager secret named AmazonMSK_… (MSK requires the prefix)`,
        );
      }
      login = { kind: "scram", secretArn, secretKeyArn: text("secretKeyArn") };
    } else {
      throw new ConfigError(
        `context '${PREFIX}auth' must be 'scram' or 'iam', got '${String(auth)}'`,
      );
    }
    const subnetIds = list("subnetIds");
    const availabilityZones = list("availabilityZones");
    if (availabilityZones.length !== subnetIds.length) {
      throw new ConfigError(
        `context '${PREFIX}availabilityZones' must name one zone per subnet in '${PREFIX}subnetIds'`,
      );
    }
    cluster = {
      mode,
      clusterArn,
      clusterName: match[1] as string,
      serverless,
      login,
      vpcId: text("vpcId"),
      subnetIds,
      availabilityZones,
      securityGroupId: text("securityGroupId"),
    };
  } else {
    throw new ConfigError(
      `context '${PREFIX}clusterMode' must be 'new' or 'existing', got '${String(mode)}'`,
    );
  }

  const minPollers = get("minPollers");
  const pollers =
    minPollers === undefined
      ? undefined
      : { min: number("minPollers", 1, 1, 200), max: number("maxPollers", 200, 1, 2_000) };
  if (pollers && pollers.max < pollers.min) {
    throw new ConfigError(`context '${PREFIX}maxPollers' must be at least '${PREFIX}minPollers'`);
  }
  if (mode !== "new" && get("bastion") !== undefined && flag("bastion")) {
    throw new ConfigError(
      `context '${PREFIX}bastion' needs '${PREFIX}clusterMode=new': in an existing VPC, reach the brokers the way you already do`,
    );
  }
  const maxReplicas = cluster.mode === "new" ? cluster.brokers : 30;
  const replicationFactor = number("replicationFactor", Math.min(3, maxReplicas), 1, maxReplicas);
  const logRetentionDays = number("logRetentionDays", 30, 1, 3_653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    throw new ConfigError(
      `context '${PREFIX}logRetentionDays' must be one of ${LOG_RETENTION_DAYS.join(", ")} (the retentions CloudWatch Logs accepts), got '${logRetentionDays}'`,
    );
  }
  const email = get("alarmEmail");
  if (email !== undefined && (typeof email !== "string" || !/^[^@\s]+@[^@\s]+$/.test(email))) {
    throw new ConfigError(
      `context '${PREFIX}alarmEmail' must be an e-mail address, got '${String(email)}'`,
    );
  }
  return {
    pipeline: text("pipeline", "user-spending"),
    cluster,
    functions: {
      memoryMb: number("memoryMb", 1024, 128, 10_240),
      // Lambda allows at most 14 minutes for functions a Kafka mapping invokes.
      timeoutSeconds: number("timeoutSeconds", 60, 3, MAX_KAFKA_FUNCTION_TIMEOUT_SECONDS),
      logRetentionDays,
    },
    topics: {
      sourcePartitions: number("sourcePartitions", 4, 1, 10_000),
      sourcePartitionsKnown: cluster.mode === "new" || get("sourcePartitions") !== undefined,
      replicationFactor,
    },
    bastion: flag("bastion"),
    pollers,
    eventFiltering: flag("eventFiltering"),
    flushEveryMinutes: number("flushEveryMinutes", 1, 1, 60),
    alarms: {
      offsetLag: number("offsetLagThreshold", 10_000, 1, Number.MAX_SAFE_INTEGER),
      timeLagSeconds: number("timeLagThresholdSeconds", 300, 1, 86_400),
      email: email as string | undefined,
    },
  };
}
