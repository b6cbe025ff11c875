import { keySuccessor } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectBytes, pseudoRandomBytes, text } from "./assertions.js";
import { byUtf8, keysOf, type StoreSuiteScope, setAll } from "./store-suite-scope.js";

/** Registers the Store conformance tests for ranges in UTF-8 byte order and key and value edge cases. */
export function describeStoreRanges(scope: StoreSuiteScope): void {
  const { open, peer, timeout } = scope;
  describe("ranges", () => {
    const twenty = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, "0")}`);
    const range = (from: number, to: number) => twenty.slice(from, to);

    it(
      "list returns keys in order, whatever order they were written in",
      async () => {
        const store = await open();
        // 7 is coprime with 20, so this visits every key once, out of order.
        const shuffled = twenty.map((_, i) => twenty[(i * 7) % twenty.length] as string);
        for (const key of shuffled) {
          await store.commit([{ type: "set", key, value: bytes(`value of ${key}`) }]);
        }
        const listed = await store.list();
        expect(keysOf(listed)).toEqual(twenty);
        expect(listed.map((entry) => text(entry.value))).toEqual(
          twenty.map((key) => `value of ${key}`),
        );
      },
      timeout,
    );

    it(
      "start is inclusive and end exclusive",
      async () => {
        const store = await open();
        await setAll(store, twenty);
        expect(keysOf(await store.list({ start: "k05" }))).toEqual(range(5, 20));
        expect(keysOf(await store.list({ end: "k05" }))).toEqual(range(0, 5));
        expect(keysOf(await store.list({ start: "k05", end: "k10" }))).toEqual(range(5, 10));
        expect(keysOf(await store.list({ start: "k05x", end: "k10x" }))).toEqual(range(6, 11));
        expect(keysOf(await store.list({ start: "k19" }))).toEqual(["k19"]);
        expect(await store.list({ start: "k07", end: "k07" })).toEqual([]);
        expect(await store.list({ start: "k10", end: "k05" })).toEqual([]);
        expect(await store.list({ start: "z" })).toEqual([]);
      },
      timeout,
    );

    it(
      "limit caps the result; reverse walks from the end, and with limit returns the last entries",
      async () => {
        const store = await open();
        await setAll(store, twenty);
        expect(keysOf(await store.list({ limit: 3 }))).toEqual(range(0, 3));
        expect(keysOf(await store.list({ limit: 100 }))).toEqual(twenty);
        expect(keysOf(await store.list({ reverse: true }))).toEqual([...twenty].reverse());
        expect(keysOf(await store.list({ reverse: true, limit: 3 }))).toEqual([
          "k19",
          "k18",
          "k17",
        ]);
        expect(keysOf(await store.list({ start: "k05", end: "k10", limit: 2 }))).toEqual([
          "k05",
          "k06",
        ]);
        expect(
          keysOf(await store.list({ start: "k05", end: "k10", reverse: true, limit: 2 })),
        ).toEqual(["k09", "k08"]);
        expect(keysOf(await store.list({ end: "k03", reverse: true }))).toEqual([
          "k02",
          "k01",
          "k00",
        ]);
      },
      timeout,
    );

    it(
      "paging with limit and keySuccessor (or end, in reverse) visits every key once",
      async () => {
        const store = await open();
        const keys = Array.from({ length: 250 }, (_, i) => `page/${String(i).padStart(4, "0")}`);
        for (let i = 0; i < keys.length; i += 100) await setAll(store, keys.slice(i, i + 100));
        await setAll(store, ["other/1", "pagf"]);
        const forward: string[] = [];
        let start: string | undefined;
        for (;;) {
          const page = await store.list({
            prefix: "page/",
            limit: 100,
            ...(start === undefined ? {} : { start }),
          });
          forward.push(...keysOf(page));
          const last = page.at(-1);
          if (page.length < 100 || !last) break;
          start = keySuccessor(last.key);
        }
        expect(forward).toEqual(keys);
        const backward: string[] = [];
        let end: string | undefined;
        for (;;) {
          const page = await store.list({
            prefix: "page/",
            limit: 100,
            reverse: true,
            ...(end === undefined ? {} : { end }),
          });
          backward.push(...keysOf(page));
          const last = page.at(-1);
          if (page.length < 100 || !last) break;
          end = last.key;
        }
        expect(backward).toEqual([...keys].reverse());
      },
      timeout,
    );

    it(
      'prefix "user/" does not match "user0" or "users/1", and "user/1" matches "user/10"',
      async () => {
        const store = await open();
        await setAll(store, [
          "users/1",
          "user/2",
          "user0",
          "user/10",
          "use",
          "user/1",
          "user/",
          "user/1/a",
          "user",
        ]);
        expect(keysOf(await store.list({ prefix: "user/" }))).toEqual([
          "user/",
          "user/1",
          "user/1/a",
          "user/10",
          "user/2",
        ]);
        expect(keysOf(await store.list({ prefix: "user/1" }))).toEqual([
          "user/1",
          "user/1/a",
          "user/10",
        ]);
        expect(keysOf(await store.list({ prefix: "user/1/" }))).toEqual(["user/1/a"]);
        expect(keysOf(await store.list({ prefix: "user" }))).toEqual([
          "user",
          "user/",
          "user/1",
          "user/1/a",
          "user/10",
          "user/2",
          "user0",
          "users/1",
        ]);
        expect(keysOf(await store.list({ prefix: "users" }))).toEqual(["users/1"]);
        expect(await store.list({ prefix: "nobody" })).toEqual([]);
        expect(keysOf(await store.list({ prefix: "user/", reverse: true, limit: 2 }))).toEqual([
          "user/2",
          "user/10",
        ]);
      },
      timeout,
    );

    it(
      "prefix combines with start and end as an intersection",
      async () => {
        const store = await open();
        await setAll(store, [
          "a",
          "user/",
          "user/1",
          "user/1/a",
          "user/10",
          "user/2",
          "user0",
          "z",
        ]);
        const list = async (start?: string, end?: string) =>
          keysOf(
            await store.list({
              prefix: "user/",
              ...(start === undefined ? {} : { start }),
              ...(end === undefined ? {} : { end }),
            }),
          );
        expect(await list("user/10")).toEqual(["user/10", "user/2"]);
        expect(await list(undefined, "user/2")).toEqual(["user/", "user/1", "user/1/a", "user/10"]);
        expect(await list("user/1", "user/10")).toEqual(["user/1", "user/1/a"]);
        expect(await list("a", "zzz")).toEqual([
          "user/",
          "user/1",
          "user/1/a",
          "user/10",
          "user/2",
        ]);
        expect(await list("user0")).toEqual([]);
        expect(await list(undefined, "user")).toEqual([]);
      },
      timeout,
    );

    it(
      "prefixes holding SQL LIKE and glob wildcards match literally",
      async () => {
        const store = await open();
        await setAll(store, [
          "a%",
          "a%b",
          "a_",
          "a_b",
          "ab",
          "aXb",
          "a*",
          "a*b",
          "a?",
          "a[x]",
          "a\\",
          "a\\b",
          "a.b",
        ]);
        expect(keysOf(await store.list({ prefix: "a_" }))).toEqual(["a_", "a_b"]);
        expect(keysOf(await store.list({ prefix: "a%" }))).toEqual(["a%", "a%b"]);
        expect(keysOf(await store.list({ prefix: "a*" }))).toEqual(["a*", "a*b"]);
        expect(keysOf(await store.list({ prefix: "a?" }))).toEqual(["a?"]);
        expect(keysOf(await store.list({ prefix: "a[" }))).toEqual(["a[x]"]);
        expect(keysOf(await store.list({ prefix: "a\\" }))).toEqual(["a\\", "a\\b"]);
        expect(keysOf(await store.list({ prefix: "a." }))).toEqual(["a.b"]);
      },
      timeout,
    );
  });

  describe("keys and values", () => {
    const unusualKeys = [
      "\u0000",
      "a\u0000b",
      "a",
      "\u0001",
      "\u007f",
      "\u0080",
      "\u00ff",
      "\u0100",
      "é",
      "e\u0301",
      "中文",
      "日本語/キー",
      "\ue000",
      "\uffff",
      "\u{10000}",
      "\u{1F600}",
      "a\u{1F600}",
      "a\uffff",
      "\u{10FFFF}",
      "tab\there",
      "line\nbreak",
      "'quote\"",
    ];

    it(
      "binary-ish and unicode keys round-trip and list in UTF-8 byte order",
      async () => {
        const store = await open();
        await store.commit(
          unusualKeys.map((key, i) => ({ type: "set", key, value: bytes(String(i)) })),
        );
        for (const [i, key] of unusualKeys.entries()) {
          const entry = await store.get(key);
          expect(entry?.key, `key ${JSON.stringify(key)}`).toBe(key);
          expect(text(entry?.value), `value under ${JSON.stringify(key)}`).toBe(String(i));
        }
        const listed = keysOf(await store.list());
        expect(listed).toEqual([...unusualKeys].sort(byUtf8));
        // UTF-16 order would put astral characters (surrogates) before U+E000..U+FFFF.
        expect(listed.indexOf("\uffff")).toBeLessThan(listed.indexOf("\u{10000}"));
        expect(listed.indexOf("\ue000")).toBeLessThan(listed.indexOf("\u{1F600}"));
        expect(listed.indexOf("a\uffff")).toBeLessThan(listed.indexOf("a\u{1F600}"));
        // Keys are bytes, not text to normalise: composed and decomposed "é" stay two keys.
        expect(listed).toContain("é");
        expect(listed).toContain("e\u0301");
        expect(keysOf(await store.list({ reverse: true }))).toEqual([...listed].reverse());
      },
      timeout,
    );

    it(
      "ranges and prefixes over unicode keys follow UTF-8 byte order",
      async () => {
        const store = await open();
        await setAll(store, unusualKeys);
        const sorted = [...unusualKeys].sort(byUtf8);
        const between = (from: string, to: string) =>
          sorted.filter((key) => byUtf8(key, from) >= 0 && byUtf8(key, to) < 0);
        expect(keysOf(await store.list({ start: "\ue000", end: "\u{10000}" }))).toEqual(
          between("\ue000", "\u{10000}"),
        );
        expect(keysOf(await store.list({ start: "\uffff" }))).toEqual(
          sorted.filter((key) => byUtf8(key, "\uffff") >= 0),
        );
        expect(keysOf(await store.list({ start: "\u0000", end: "\u0001" }))).toEqual(["\u0000"]);
        expect(keysOf(await store.list({ prefix: "a" }))).toEqual(
          sorted.filter((key) => key.startsWith("a")),
        );
        expect(keysOf(await store.list({ prefix: "a\uffff" }))).toEqual(["a\uffff"]);
        expect(keysOf(await store.list({ prefix: "\u{1F600}" }))).toEqual(["\u{1F600}"]);
        expect(keysOf(await store.list({ prefix: "\u{10FFFF}" }))).toEqual(["\u{10FFFF}"]);
        expect(keysOf(await store.list({ prefix: "中" }))).toEqual(["中文"]);
      },
      timeout,
    );

    it(
      "a 1 MiB value of arbitrary bytes, zeros included, round-trips exactly",
      async () => {
        const store = await open();
        const value = pseudoRandomBytes(1024 * 1024);
        await store.commit([{ type: "set", key: "big", value }]);
        expectBytes((await store.get("big"))?.value, value, "get");
        expectBytes((await (await peer()).getMany(["big"]))[0]?.value, value, "getMany via peer");
        expectBytes((await store.list({ prefix: "big" }))[0]?.value, value, "list");
      },
      timeout,
    );

    it(
      "large batches work: a commit of 2,000 ops, getMany of 2,000 keys, list of 2,000 entries",
      async () => {
        const store = await open();
        const keys = Array.from({ length: 2000 }, (_, i) => `bulk/${String(i).padStart(5, "0")}`);
        const { version } = await store.commit(
          keys.map((key, i) => ({ type: "set", key, value: bytes(String(i)), expect: "absent" })),
        );
        const entries = await (await peer()).getMany(keys);
        expect(
          entries.every(
            (entry, i) => text(entry?.value) === String(i) && entry?.version === version,
          ),
        ).toBe(true);
        const listed = await store.list({ prefix: "bulk/" });
        expect(keysOf(listed)).toEqual(keys);
        await store.commit(keys.map((key) => ({ type: "delete", key, expect: version })));
        expect(await store.list()).toEqual([]);
      },
      timeout,
    );

    it(
      "an empty value is stored as an empty value, not as absent",
      async () => {
        const store = await open();
        const { version } = await store.commit([
          { type: "set", key: "empty", value: new Uint8Array(0) },
        ]);
        const entry = await store.get("empty");
        expect(entry?.version).toBe(version);
        expectBytes(entry?.value, new Uint8Array(0), "empty value");
        expect(keysOf(await store.list())).toEqual(["empty"]);
      },
      timeout,
    );

    it(
      "values are copies: mutating the input or the returned bytes changes nothing stored",
      async () => {
        const store = await open();
        const input = bytes("original");
        await store.commit([{ type: "set", key: "k", value: input }]);
        input.fill(0x21);
        const first = await store.get("k");
        expect(text(first?.value)).toBe("original");
        first?.value.fill(0x3f);
        expect(text((await store.get("k"))?.value)).toBe("original");
        const listed = await store.list();
        listed[0]?.value.fill(0x3f);
        expect(text((await store.get("k"))?.value)).toBe("original");
      },
      timeout,
    );

    it(
      "a value that is a view into a larger buffer stores only the view's bytes",
      async () => {
        const store = await open();
        const backing = bytes("xxxxhelloyyyy");
        const view = backing.subarray(4, 9);
        await store.commit([{ type: "set", key: "view", value: view }]);
        expectBytes((await store.get("view"))?.value, bytes("hello"), "view");
        const node = Buffer.from("a buffer value");
        await store.commit([{ type: "set", key: "buffer", value: node }]);
        expectBytes((await store.get("buffer"))?.value, bytes("a buffer value"), "Buffer input");
      },
      timeout,
    );
  });
}
