import { expect, it } from "vitest";
import { BackgroundLane } from "./background-lane.js";

/** A task that records its start and finishes when `finish` is called. */
function gate(name: string, log: string[]) {
  let finish: () => void = () => {};
  const task = () =>
    new Promise<string>((resolve) => {
      log.push(`start ${name}`);
      finish = () => {
        log.push(`end ${name}`);
        resolve(name);
      };
    });
  return { task, finish: () => finish() };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

it("runs one task at a time; an urgent one starts before the ordinary ones waiting", async () => {
  const lane = new BackgroundLane();
  const log: string[] = [];
  const a = gate("a", log);
  const b = gate("b", log);
  const c = gate("c", log);
  const u = gate("u", log);
  const results = [lane.run(a.task), lane.run(b.task), lane.run(c.task), lane.run(u.task, true)];
  await turn();
  expect(log).toEqual(["start a"]);
  a.finish();
  await turn();
  u.finish();
  await turn();
  b.finish();
  await turn();
  c.finish();
  expect(await Promise.all(results)).toEqual(["a", "b", "c", "u"]);
  expect(log).toEqual([
    "start a",
    "end a",
    "start u",
    "end u",
    "start b",
    "end b",
    "start c",
    "end c",
  ]);
});

it("a failing task rejects its own run only; idle waits for the queue to drain", async () => {
  const lane = new BackgroundLane();
  const log: string[] = [];
  const later = gate("later", log);
  const failed = lane.run(() => Promise.reject(new Error("boom")));
  const next = lane.run(later.task);
  let idle = false;
  void lane.idle().then(() => {
    idle = true;
  });
  await expect(failed).rejects.toThrow("boom");
  await turn();
  expect(log).toEqual(["start later"]);
  expect(idle).toBe(false);
  later.finish();
  expect(await next).toBe("later");
  await turn();
  expect(idle).toBe(true);
  await lane.idle();
});
