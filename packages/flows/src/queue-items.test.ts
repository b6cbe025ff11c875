import { describe, expect, it } from "vitest";
import { decodeItem, encodeItem, type Item, itemId } from "./queue-items.js";

describe("queue item codec", () => {
  const cases: [Item, string, string][] = [
    [{ kind: "discover", runId: "R", gen: 2 }, "d:R:2", '{"k":"d","r":"R","g":2}'],
    [{ kind: "step", runId: "R", hash: "H" }, "s:R:H", '{"k":"s","r":"R","h":"H"}'],
    [{ kind: "timer", runId: "R", hash: "H" }, "t:R:H", '{"k":"t","r":"R","h":"H"}'],
    [{ kind: "deadline", runId: "R" }, "x:R", '{"k":"x","r":"R"}'],
    [
      { kind: "cron", functionId: "F", trigger: 1, tick: 60_000 },
      "c:F:1:60000",
      '{"k":"c","f":"F","i":1,"t":60000}',
    ],
    [
      { kind: "debounce", functionId: "F", keyHash: "K", instance: "G" },
      "D:F:K:G",
      '{"k":"D","f":"F","h":"K","g":"G"}',
    ],
    [
      { kind: "batch", functionId: "F", keyHash: "K", instance: "G" },
      "B:F:K:G",
      '{"k":"B","f":"F","h":"K","g":"G"}',
    ],
  ];

  it("keeps the ids and the short payloads that queues already hold, and round-trips", () => {
    for (const [item, id, payload] of cases) {
      expect(itemId(item)).toBe(id);
      expect(new TextDecoder().decode(encodeItem(item))).toBe(payload);
      expect(decodeItem(encodeItem(item))).toEqual(item);
    }
  });
});
