import { createIdGenerator, ManualClock, ulidTime } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { pageNewestFirst } from "./rest-paging.js";

interface Item {
  readonly id: string;
  readonly text: string;
}

/** Items newest first, three to a millisecond, listed as the engine lists them. */
function listing(count: number, textBytes: number) {
  const clock = new ManualClock(1_000_000);
  const nextId = createIdGenerator(clock);
  const items: Item[] = [];
  for (let index = 0; index < count; index++) {
    if (index % 3 === 0) clock.set(1_000_000 + index);
    items.push({ id: nextId(), text: "x".repeat(textBytes) });
  }
  items.sort((a, b) => (a.id < b.id ? 1 : -1));
  const list = async (query: { limit: number; to?: number }) =>
    items
      .filter((item) => query.to === undefined || ulidTime(item.id) < query.to)
      .slice(0, query.limit);
  return { items, list };
}

async function drain(
  list: Parameters<typeof pageNewestFirst<Item>>[0],
  limit: number,
  maxBytes: number,
) {
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await pageNewestFirst(list, { limit, cursor, maxBytes, toJson: (item) => item });
    seen.push(...result.data.map((item) => (item as Item).id));
    sizes.push(Buffer.byteLength(JSON.stringify(result.data)));
    cursor = result.cursor;
    if (cursor === undefined) break;
  }
  return { seen, sizes };
}

describe("pageNewestFirst", () => {
  it("pages by count and by bytes, and the cursor reaches every item once, in order", async () => {
    const { items, list } = listing(10, 1000);
    const byCount = await drain(list, 4, 1_000_000);
    expect(byCount.seen).toEqual(items.map((item) => item.id));
    expect(byCount.sizes).toHaveLength(3);
    const byBytes = await drain(list, 100, 3500);
    expect(byBytes.seen).toEqual(items.map((item) => item.id));
    expect(Math.max(...byBytes.sizes)).toBeLessThanOrEqual(3500);
  });

  it("refuses a cursor that is not one", async () => {
    const { list } = listing(1, 1);
    await expect(
      pageNewestFirst(list, { limit: 5, cursor: "nope", maxBytes: 1000, toJson: (item) => item }),
    ).rejects.toThrow(/^cursor: expected the cursor of a previous page/);
  });
});
