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
  readonly kafkaVersion: string;
  readonly instanceType: string;
  readonly brokers: number;
  readonly volumeGiB: number;
}

/** An MSK cluster you already run; everything synth needs is given, so synth does no lookups. */
export interface ExistingCluster {
  readonly mode: "existing";
  readonly clusterArn: string;
  readonly clusterName: string;
  /** The `AmazonMSK_` SCRAM secret associated with the cluster. */
  readonly secretArn: string;
  /** The customer-managed KMS key that encrypts that secret (the functions decrypt with it). */
  readonly secretKeyArn: string;
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
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(
        `context '${PREFIX}${key}' must be a number from ${min} to ${max}, got '${String(raw)}'`,
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

  const mode = get("clusterMode") ?? "new";
  let cluster: SparklessConfig["cluster"];
  if (mode === "new") {
    const brokers = number("brokers", 2, 2, 30);
    cluster = {
      mode,
      kafkaVersion: text("kafkaVersion", "3.9.x"),
      instanceType: text("brokerInstanceType", "kafka.m7g.large"),
      brokers,
      volumeGiB: number("brokerVolumeGiB", 100, 1, 16_384),
    };
    if (brokers % 2 !== 0)
      throw new ConfigError(
        `context '${PREFIX}brokers' must be a multiple of the 2 availability zones`,
      );
  } else if (mode === "existing") {
    const clusterArn = text("clusterArn");
    const match = /^arn:aws[\w-]*:kafka:[\w-]+:\d{12}:cluster\/([\w-]+)\/[\w-]+$/.exec(clusterArn);
    if (!match)
      throw new ConfigError(
        `context '${PREFIX}clusterArn' is not an MSK cluster ARN: '${clusterArn}'`,
      );
    const secretArn = text("secretArn");
    if (!/:secret:AmazonMSK_/.test(secretArn)) {
      throw new ConfigError(
        `context '${PREFIX}secretArn' must be a Secrets Manager secret named AmazonMSK_… (MSK requires the prefix)`,
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
      secretArn,
      secretKeyArn: text("secretKeyArn"),
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
      timeoutSeconds: number("timeoutSeconds", 60, 3, 900),
      logRetentionDays: number("logRetentionDays", 30, 1, 3_653),
    },
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
