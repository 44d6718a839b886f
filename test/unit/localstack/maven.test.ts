import { describe, expect, it } from "vitest";
import { parseTransferLine } from "../../../localstack/maven.ts";

// Maven 3.x batch-mode transfer log lines (as `mvn --batch-mode -Dstyle.color=never` prints them).
describe("parseTransferLine (the first start's download progress)", () => {
  it.each([
    [
      "[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/3.9.2/kafka_2.13-3.9.2.jar",
      { kind: "downloading", file: "kafka_2.13-3.9.2.jar" },
    ],
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/3.9.2/kafka_2.13-3.9.2.jar (6.6 MB at 3.1 MB/s)",
      { kind: "downloaded", file: "kafka_2.13-3.9.2.jar", bytes: 6_600_000 },
    ],
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/maven/plugins/maven-plugins/22/maven-plugins-22.pom (13 kB at 85 kB/s)",
      { kind: "downloaded", file: "maven-plugins-22.pom", bytes: 13_000 },
    ],
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/x/y/1/y-1.pom.sha1 (40 B at 1 kB/s)",
      { kind: "downloaded", file: "y-1.pom.sha1", bytes: 40 },
    ],
    ["[INFO] Copying DynamoDBLocal-3.3.1.jar to /tmp/out/DynamoDBLocal-3.3.1.jar", undefined],
    ["[INFO] BUILD SUCCESS", undefined],
  ])("%s", (line, expected) => {
    expect(parseTransferLine(line)).toEqual(expected);
  });
});
