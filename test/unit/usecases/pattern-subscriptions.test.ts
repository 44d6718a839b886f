import { describe, expect, it } from "vitest";
import {
  type PatternMapping,
  reconcilePatternSubscriptions,
} from "../../../shared/usecases/pattern-subscriptions.ts";

function world(topics: string[], mappings: PatternMapping[]) {
  const lines: string[] = [];
  const state = { topics, mappings: [...mappings] };
  let next = 1;
  const deps = {
    pattern: /^(?:events-.*)$/,
    groupFor: (topic: string) => `sparkless-p-parse-filter-${topic}`,
    listTopics: async () => state.topics,
    log: (message: string, fields: Record<string, string>) =>
      lines.push(`${message} ${fields.topic}`),
    mappings: {
      list: async () => state.mappings,
      create: async (topic: string, consumerGroupId: string) => {
        const id = `m${next++}`;
        state.mappings.push({ id, topic, consumerGroupId });
        return id;
      },
      remove: async (m: PatternMapping) => {
        state.mappings = state.mappings.filter((x) => x.id !== m.id);
      },
    },
  };
  return { deps, state, lines };
}

const mapping = (id: string, topic: string, group = `sparkless-p-parse-filter-${topic}`) => ({
  id,
  topic,
  consumerGroupId: group,
});

describe("reconcilePatternSubscriptions", () => {
  it("creates a mapping per matching topic, keeps existing ones, removes those of deleted topics, logs each", async () => {
    // GIVEN events-a mapped, events-gone mapped but deleted, events-b new, other not matching
    const { deps, state, lines } = world(
      ["events-a", "events-b", "other", "events"],
      [mapping("m-a", "events-a"), mapping("m-gone", "events-gone")],
    );
    // WHEN
    const result = await reconcilePatternSubscriptions(deps);
    // THEN
    expect(result).toEqual({ created: ["events-b"], removed: ["events-gone"], kept: ["events-a"] });
    expect(state.mappings.map((m) => m.topic).sort()).toEqual(["events-a", "events-b"]);
    expect(lines).toEqual(["mapping created events-b", "mapping removed events-gone"]);
    // AND a second pass changes nothing
    expect(await reconcilePatternSubscriptions(deps)).toEqual({
      created: [],
      removed: [],
      kept: ["events-a", "events-b"],
    });
  });

  it("leaves mappings it did not make (another group) alone", async () => {
    const { deps, state } = world([], [mapping("m-x", "events-x", "someone-else")]);
    expect((await reconcilePatternSubscriptions(deps)).removed).toEqual([]);
    expect(state.mappings).toHaveLength(1);
  });
});
