import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawClient } from "./raw-client.js";
import { startServer } from "./support.js";

const run = promisify(execFile);
let running: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  running = await startServer();
});
afterAll(() => running.close());

// The real Redis command-line tools (apt-get install redis-tools): a missing tool fails the test.
describe("redis-cli and redis-benchmark", () => {
  it("runs commands from redis-cli", async () => {
    const cli = (...args: string[]) =>
      run("redis-cli", ["-p", String(running.port), ...args]).then(({ stdout }) => stdout.trim());
    expect(await cli("PING")).toBe("PONG");
    expect(await cli("SET", "cli:a", "hello world")).toBe("OK");
    expect(await cli("GET", "cli:a")).toBe("hello world");
    expect(await cli("RPUSH", "cli:l", "a", "b")).toBe("2");
    expect(await cli("LRANGE", "cli:l", "0", "-1")).toBe("a\nb");
    expect(await cli("-3", "HELLO", "3")).toContain("proto");
    expect(await cli("GET", "cli:l")).toContain("WRONGTYPE");
    expect(await cli("COMMAND", "COUNT")).toMatch(/^\d+$/);
    const scanned = await cli("--scan", "--pattern", "cli:*");
    expect(scanned.split("\n").sort()).toEqual(["cli:a", "cli:l"]);
  });

  it("completes redis-benchmark -t set,get,incr,lpush,rpop without errors", async () => {
    const { stdout, stderr } = await run(
      "redis-benchmark",
      [
        "-p",
        String(running.port),
        "-t",
        "set,get,incr,lpush,rpop",
        "-n",
        "2000",
        "-c",
        "10",
        "--csv",
      ],
      { maxBuffer: 1 << 22 },
    );
    expect(stderr).not.toMatch(/error/i);
    const tests = stdout
      .split("\n")
      .filter((line) => /^"[A-Z]/.test(line))
      .map((line) => line.split(",")[0]?.replace(/"/g, ""));
    expect(tests).toEqual(["SET", "GET", "INCR", "LPUSH", "RPOP"]);
    const redis = new Redis({ port: running.port });
    try {
      expect(await redis.llen("mylist")).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe("protocol details", () => {
  it("switches to RESP3 with HELLO 3 and answers maps and pushes", async () => {
    const client = await rawClient(running.port);
    try {
      client.send("HELLO 3\r\n");
      expect(await client.until((text) => text.includes("modules"))).toMatch(/^%7\r\n/);
      client.take();
      client.send(
        "*4\r\n$4\r\nHSET\r\n$2\r\nh3\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$7\r\nHGETALL\r\n$2\r\nh3\r\n",
      );
      expect(await client.until((text) => text.includes("%1"))).toBe(
        ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
      );
      client.take();
      client.send("GET nothing\r\nSUBSCRIBE ch\r\nGET nothing\r\n");
      expect(await client.until((text) => text.endsWith("_\r\n") && text.includes(">3"))).toBe(
        "_\r\n>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n_\r\n",
      );
    } finally {
      client.close();
    }
  });

  it("refuses commands other than subscriptions while subscribed in RESP2", async () => {
    const client = await rawClient(running.port);
    try {
      client.send("SUBSCRIBE ch\r\nGET x\r\nPING\r\n");
      const text = await client.until((received) => received.includes("pong"));
      expect(text).toContain("-ERR Can't execute 'get'");
      expect(text).toContain("*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    } finally {
      client.close();
    }
  });

  it("answers a protocol error and closes the connection, and the server keeps serving", async () => {
    const client = await rawClient(running.port);
    client.send("*1\r\n$x\r\n");
    const text = await client.until(() => false, 2000);
    expect(text).toBe("-ERR Protocol error: invalid length\r\n");
    expect(client.isClosed()).toBe(true);
    const next = await rawClient(running.port);
    next.send("PING\r\n");
    expect(await next.until((received) => received.length > 0)).toBe("+PONG\r\n");
    next.close();
  });

  it("refuses arguments that are not UTF-8 text and keeps the connection", async () => {
    const client = await rawClient(running.port);
    try {
      client.send(
        Buffer.concat([
          Buffer.from("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n"),
          Buffer.from([0xff]),
          Buffer.from("\r\nPING\r\n"),
        ]),
      );
      const text = await client.until((received) => received.includes("PONG"));
      expect(text).toBe(
        "-ERR argument 2 is not UTF-8 text: Troupe keeps keys and values as text\r\n+PONG\r\n",
      );
    } finally {
      client.close();
    }
  });
});

describe("authentication", () => {
  it("requires the token before any command, compared with AUTH and HELLO", async () => {
    const secured = await startServer({ token: "s3cret-token" });
    try {
      const client = await rawClient(secured.port);
      client.send("GET a\r\nAUTH wrong\r\nAUTH default s3cret-token\r\nGET a\r\n");
      expect(await client.until((text) => text.endsWith("$-1\r\n"))).toBe(
        "-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n",
      );
      client.close();
      const hello = await rawClient(secured.port);
      hello.send("HELLO 3 AUTH default s3cret-token\r\nPING\r\n");
      expect(await hello.until((text) => text.includes("PONG"))).toMatch(/^%7[\s\S]*\+PONG\r\n$/);
      hello.close();
      const redis = new Redis({ port: secured.port, password: "s3cret-token" });
      expect(await redis.set("auth:k", "v")).toBe("OK");
      redis.disconnect();
    } finally {
      await secured.close();
    }
  });
});
