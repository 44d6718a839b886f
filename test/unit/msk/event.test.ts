import { describe, expect, it } from "vitest";
import { decodeMskEvent, encodeMskRecord, type MskEvent } from "../../../shared/msk/event.ts";
import awsExample from "../../fixtures/msk-event.json" with { type: "json" };

// The fixture is the sample event of the AWS Lambda developer guide ("Using Lambda with Amazon MSK").
const example = awsExample as MskEvent;

describe("decodeMskEvent", () => {
  it("decodes AWS's documented MSK event: base64 value, header bytes, coordinates", () => {
    // Act
    const [record, ...rest] = decodeMskEvent(example);

    // Assess
    expect(rest).toHaveLength(0);
    expect(record?.topic).toBe("mytopic");
    expect(record?.partition).toBe(0);
    expect(record?.offset).toBe(15);
    expect(record?.timestampMs).toBe(1545084650987);
    expect(record?.value?.toString("utf8")).toBe("Hello, this is a test.");
    expect(record?.headers.map(([k, v]) => [k, v.toString("utf8")])).toEqual([
      ["headerKey", "headerValue"],
    ]);
  });

  it("keeps a missing key and a null value as null, not as empty bytes", () => {
    const event: MskEvent = {
      eventSource: "SelfManagedKafka",
      bootstrapServers: "127.0.0.1:9096",
      records: {
        "t-1": [
          {
            topic: "t",
            partition: 1,
            offset: 7,
            timestamp: 1,
            timestampType: "CREATE_TIME",
            value: null,
            headers: [],
          },
        ],
      },
    };
    const [record] = decodeMskEvent(event);
    expect(record?.key).toBeNull();
    expect(record?.value).toBeNull();
  });
});

describe("encodeMskRecord", () => {
  it("builds the record AWS would send, which decodes back to the consumed bytes", () => {
    // Prepare: what kafkajs hands a consumer (offset and timestamp as strings).
    const consumed = {
      topic: "mytopic",
      partition: 0,
      offset: "15",
      timestamp: "1545084650987",
      key: Buffer.from("u1"),
      value: Buffer.from("Hello, this is a test."),
      headers: { headerKey: Buffer.from("headerValue") },
    };

    // Act
    const encoded = encodeMskRecord(consumed);

    // Assess: the documented shape, field for field.
    const documented = example.records["mytopic-0"]?.[0];
    expect(encoded).toEqual({ ...documented, key: Buffer.from("u1").toString("base64") });
    expect(Object.keys(encoded).sort()).toEqual(Object.keys(documented ?? {}).sort());
  });
});
