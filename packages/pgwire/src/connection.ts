import { randomInt } from "node:crypto";
import type { Socket } from "node:net";
import type { Counter, Gauge, Logger } from "@troupe/core";
import { type PgAccess, SessionGuard } from "./access.js";
import { PgError, SQLSTATE, unsupported } from "./pg-error.js";
import { BodyReader, type FrontendMessage, MessageReader, MessageWriter } from "./pg-messages.js";
import { PG_TYPES } from "./pg-types.js";
import type { EngineContext, PreparedQuery, QueryResult } from "./query-engine.js";
import { prepareQueries } from "./query-engine.js";
import { ScramExchange, type ScramVerifier } from "./scram.js";

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSS_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

/** What connections share: the engine, credentials, limits, counters and the cancel registry. */
export interface PgServerContext {
  readonly engine: EngineContext;
  /** The token's SCRAM verifier, or undefined when no password is required. */
  readonly verifier: ScramVerifier | undefined;
  /** Scoped-token access: a clear-text password checked per session, scopes per statement. */
  readonly access: PgAccess | undefined;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  readonly stats: PgServerStats;
  /** Where counts go, when the server has a Metrics sink. */
  readonly meter: PgMeter | undefined;
  /** Connections by process id, for cancel requests. */
  readonly byProcessId: Map<number, PgConnection>;
  /** The parameters announced after startup. */
  readonly parameters: ReadonlyMap<string, string>;
}

/** The metrics a server reports. */
export interface PgMeter {
  readonly connections: Gauge;
  readonly queries: Counter;
  readonly errors: Counter;
}

/** Counters for metrics. */
export interface PgServerStats {
  connectionsTotal: number;
  connectionsOpen: number;
  queriesTotal: number;
  errorsTotal: number;
  protocolErrorsTotal: number;
  cancelsTotal: number;
}

interface Portal {
  readonly query: PreparedQuery | undefined;
  readonly params: readonly (string | null)[];
  result: QueryResult | undefined;
  offset: number;
}

let nextProcessId = 1000;

/** Serves one client: startup, authentication, then simple and extended queries in order. */
export class PgConnection {
  readonly processId = nextProcessId++;
  readonly secret = randomInt(1, 2 ** 31 - 1);
  private readonly reader: MessageReader;
  private readonly out = new MessageWriter();
  private phase: "startup" | "auth" | "ready" | "closed" = "startup";
  private scram: ScramExchange | undefined;
  private readonly statements = new Map<string, PreparedQuery | undefined>();
  private readonly portals = new Map<string, Portal>();
  private skipUntilSync = false;
  private transaction: "I" | "T" | "E" = "I";
  private queue: FrontendMessage[] = [];
  private working = false;
  private running: AbortController | undefined;
  private engine: EngineContext;
  private user: string | undefined;

  constructor(
    private readonly context: PgServerContext,
    private readonly socket: Socket,
  ) {
    this.reader = new MessageReader(context.maxMessageBytes);
    this.engine = context.engine;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.onClose());
    if (context.idleTimeoutMs > 0) {
      socket.setTimeout(context.idleTimeoutMs, () => {
        this.fatal(
          new PgError("57P05", "terminating connection due to idle-session timeout", "FATAL"),
        );
      });
    }
  }

  /** Cancels the statement running now (a CancelRequest with this connection's key). */
  cancel(): void {
    this.context.stats.cancelsTotal++;
    this.running?.abort();
  }

  /** Closes the connection (server shutdown). */
  close(): void {
    if (this.phase === "closed") return;
    this.fatal(
      new PgError("57P01", "terminating connection due to administrator command", "FATAL"),
    );
  }

  private onData(chunk: Buffer): void {
    if (this.phase === "closed") return;
    if (!this.read(() => this.reader.feed(chunk))) return;
    void this.work();
  }

  /** Frames bytes into the queue; a framing error closes the connection. */
  private read(frame: () => FrontendMessage[]): boolean {
    try {
      this.queue.push(...frame());
      return true;
    } catch (error) {
      this.context.stats.protocolErrorsTotal++;
      this.fatal(
        error instanceof PgError
          ? error
          : new PgError(SQLSTATE.protocolViolation, "invalid message", "FATAL"),
      );
      return false;
    }
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (this.queue.length > 0 && this.phase !== "closed") {
        const message = this.queue.shift() as FrontendMessage;
        try {
          await this.handle(message);
        } catch (error) {
          this.fail(error);
        }
        // The startup message switches the framing: parse what followed it again.
        if (message.type === undefined && this.reader.typed) this.read(() => this.reader.drain());
      }
    } finally {
      this.working = false;
      this.flush();
    }
  }

  private flush(): void {
    if (this.out.length > 0 && this.phase !== "closed") this.socket.write(this.out.take());
  }

  private fatal(error: PgError): void {
    if (this.phase === "closed") return;
    this.out.error(
      error.severity === "FATAL" ? error : new PgError(error.code, error.message, "FATAL"),
    );
    this.flush();
    this.phase = "closed";
    this.socket.end();
  }

  private fail(error: unknown): void {
    const pgError =
      error instanceof PgError
        ? error
        : new PgError(
            SQLSTATE.internalError,
            error instanceof Error ? error.message : String(error),
          );
    if (!(error instanceof PgError))
      this.context.logger.error("pgwire: statement failed", { error });
    if (pgError.severity === "FATAL" || this.phase !== "ready") {
      if (pgError.code === SQLSTATE.protocolViolation) this.context.stats.protocolErrorsTotal++;
      this.fatal(pgError);
      return;
    }
    this.context.stats.errorsTotal++;
    this.context.meter?.errors.inc();
    this.out.error(pgError);
    if (this.transaction === "T") this.transaction = "E";
  }

  private async handle(message: FrontendMessage): Promise<void> {
    if (message.type === undefined) return this.startup(message.body);
    const body = new BodyReader(message.body);
    if (this.phase === "auth") {
      if (message.type !== "p")
        throw new PgError(SQLSTATE.protocolViolation, "expected a password message", "FATAL");
      return this.authenticate(body);
    }
    if (this.skipUntilSync && message.type !== "S") return;
    switch (message.type) {
      case "Q":
        return this.simpleQuery(body.cstring());
      case "P":
        return this.parse(body);
      case "B":
        return this.bind(body);
      case "D":
        return this.describe(body);
      case "E":
        return this.execute(body);
      case "S":
        this.skipUntilSync = false;
        this.out.readyForQuery(this.transaction);
        this.flush();
        return;
      case "H":
        this.flush();
        return;
      case "C": {
        const kind = body.byte();
        const name = body.cstring();
        if (kind === "S") this.statements.delete(name);
        else this.portals.delete(name);
        this.out.simple("3");
        return;
      }
      case "X":
        this.phase = "closed";
        this.socket.end();
        return;
      case "d":
      case "c":
      case "f":
        throw unsupported("COPY");
      default:
        throw new PgError(
          SQLSTATE.protocolViolation,
          `invalid frontend message type "${message.type}"`,
          "FATAL",
        );
    }
  }

  private startup(bodyBytes: Buffer): void {
    const body = new BodyReader(bodyBytes);
    const code = body.int32();
    if (code === SSL_REQUEST || code === GSS_REQUEST) {
      // Refused politely: the client goes on in plain text (or gives up, as its sslmode says).
      this.socket.write("N");
      return;
    }
    if (code === CANCEL_REQUEST) {
      const processId = body.int32();
      const secret = body.int32();
      const target = this.context.byProcessId.get(processId);
      if (target !== undefined && target.secret === secret) target.cancel();
      this.phase = "closed";
      this.socket.end();
      return;
    }
    if (code !== PROTOCOL_3) {
      throw new PgError(
        SQLSTATE.featureNotSupported,
        `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: Troupe speaks 3.0`,
        "FATAL",
      );
    }
    for (;;) {
      const name = body.cstring();
      if (name === "") break;
      const value = body.cstring();
      if (name === "user") this.user = value;
    }
    this.reader.typed = true;
    if (this.context.access !== undefined) {
      // A scoped token is kept hashed: only its clear text can be checked, not a SCRAM proof.
      this.phase = "auth";
      this.out.authentication(3);
      return;
    }
    if (this.context.verifier !== undefined) {
      this.phase = "auth";
      this.out.authentication(10, Buffer.from("SCRAM-SHA-256\0\0", "utf8"));
      return;
    }
    this.ready();
  }

  private async authenticateToken(body: BodyReader, access: PgAccess): Promise<void> {
    const password = body.cstring();
    const source = `${this.socket.remoteAddress ?? "?"}:${this.socket.remotePort ?? 0}`;
    const principal = await access.authenticate(password, this.user).catch(() => undefined);
    if (principal === undefined) {
      access.audit?.({
        principal: undefined,
        source,
        operation: "PG LOGIN",
        target: this.user ?? "",
        status: 401,
      });
      throw new PgError(
        SQLSTATE.invalidPassword,
        `password authentication failed for user "${this.user ?? ""}": expected a live Troupe token`,
        "FATAL",
      );
    }
    const guard = new SessionGuard(
      access,
      principal,
      { password, user: this.user },
      source,
      this.context.engine.now,
    );
    this.engine = { ...this.context.engine, guard };
    this.ready();
  }

  private authenticate(body: BodyReader): void | Promise<void> {
    if (this.context.access !== undefined) return this.authenticateToken(body, this.context.access);
    const verifier = this.context.verifier as ScramVerifier;
    if (this.scram === undefined) {
      const mechanism = body.cstring();
      if (mechanism !== "SCRAM-SHA-256") {
        throw new PgError(
          SQLSTATE.invalidAuthorization,
          `unsupported SASL mechanism ${mechanism}: use SCRAM-SHA-256`,
          "FATAL",
        );
      }
      const length = body.int32();
      const first = body.bytes(length).toString("utf8");
      this.scram = new ScramExchange(verifier);
      this.out.authentication(11, Buffer.from(this.scram.start(first), "utf8"));
      return;
    }
    const final = this.scram.finish(body.rest().toString("utf8"));
    this.out.authentication(12, Buffer.from(final, "utf8"));
    this.ready();
  }

  private ready(): void {
    this.phase = "ready";
    this.out.authentication(0);
    for (const [name, value] of this.context.parameters) this.out.parameterStatus(name, value);
    this.out.backendKeyData(this.processId, this.secret);
    this.out.readyForQuery("I");
    this.context.byProcessId.set(this.processId, this);
  }

  private checkTransaction(query: PreparedQuery | undefined, tagOf: string): void {
    if (this.transaction === "E" && !/^(ROLLBACK|COMMIT)/i.test(tagOf) && query !== undefined) {
      throw new PgError(
        SQLSTATE.inFailedTransaction,
        "current transaction is aborted, commands ignored until end of transaction block",
      );
    }
  }

  private async runQuery(
    query: PreparedQuery,
    params: readonly (string | null)[],
  ): Promise<QueryResult> {
    this.context.stats.queriesTotal++;
    this.context.meter?.queries.inc();
    const controller = new AbortController();
    this.running = controller;
    try {
      const result = await query.run(params, controller.signal);
      if (controller.signal.aborted)
        throw new PgError(SQLSTATE.queryCanceled, "canceling statement due to user request");
      if (result.tag === "BEGIN") this.transaction = "T";
      if (result.tag === "COMMIT" || result.tag === "ROLLBACK") this.transaction = "I";
      return result;
    } finally {
      this.running = undefined;
    }
  }

  private async simpleQuery(sql: string): Promise<void> {
    try {
      const queries = prepareQueries(sql, this.engine);
      if (queries.length === 0) this.out.simple("I");
      for (const query of queries) {
        this.checkTransaction(query, sql);
        const result = await this.runQuery(query, []);
        if (result.fields !== undefined) {
          this.out.rowDescription(fieldsOf(result));
          for (const row of result.rows) this.out.dataRow(row);
        }
        this.out.commandComplete(result.tag);
        if (this.out.length > 65_536) this.flush();
      }
    } catch (error) {
      if (/^\s*rollback/i.test(sql)) this.transaction = "I";
      this.fail(error);
    }
    this.out.readyForQuery(this.transaction);
    this.flush();
  }

  private extendedFailure(error: unknown): void {
    this.fail(error);
    this.skipUntilSync = true;
  }

  private parse(body: BodyReader): void {
    const name = body.cstring();
    const sql = body.cstring();
    try {
      const queries = prepareQueries(sql, this.engine);
      if (queries.length > 1) {
        throw new PgError(
          SQLSTATE.syntaxError,
          "cannot insert multiple commands into a prepared statement",
        );
      }
      this.statements.set(name, queries[0]);
      this.out.simple("1");
    } catch (error) {
      this.extendedFailure(error);
    }
  }

  private bind(body: BodyReader): void {
    try {
      const portalName = body.cstring();
      const statementName = body.cstring();
      if (!this.statements.has(statementName)) {
        throw new PgError(
          SQLSTATE.invalidSqlStatementName,
          `prepared statement "${statementName}" does not exist`,
        );
      }
      const formats = Array.from({ length: body.int16() }, () => body.int16());
      const params = Array.from({ length: body.int16() }, () => {
        const length = body.int32();
        return length < 0 ? null : body.bytes(length).toString("utf8");
      });
      const resultFormats = Array.from({ length: body.int16() }, () => body.int16());
      if (formats.some((format) => format !== 0) || resultFormats.some((format) => format !== 0)) {
        throw unsupported("the binary format (Troupe answers in text format)");
      }
      const query = this.statements.get(statementName);
      if (query !== undefined && params.length < query.paramCount) {
        throw new PgError(
          SQLSTATE.protocolViolation,
          `bind message supplies ${params.length} parameters, but the statement requires ${query.paramCount}`,
        );
      }
      this.portals.set(portalName, { query, params, result: undefined, offset: 0 });
      this.out.simple("2");
    } catch (error) {
      this.extendedFailure(error);
    }
  }

  private describe(body: BodyReader): void {
    try {
      const kind = body.byte();
      const name = body.cstring();
      if (kind === "S") {
        if (!this.statements.has(name)) {
          throw new PgError(
            SQLSTATE.invalidSqlStatementName,
            `prepared statement "${name}" does not exist`,
          );
        }
        const query = this.statements.get(name);
        this.out.parameterDescription(
          Array.from({ length: query?.paramCount ?? 0 }, () => PG_TYPES.text.oid),
        );
        if (query?.fields === undefined) this.out.simple("n");
        else this.out.rowDescription(fieldsOf({ fields: query.fields }));
        return;
      }
      const portal = this.portals.get(name);
      if (portal === undefined)
        throw new PgError(SQLSTATE.invalidCursorName, `portal "${name}" does not exist`);
      if (portal.query?.fields === undefined) this.out.simple("n");
      else this.out.rowDescription(fieldsOf({ fields: portal.query.fields }));
    } catch (error) {
      this.extendedFailure(error);
    }
  }

  private async execute(body: BodyReader): Promise<void> {
    try {
      const name = body.cstring();
      const maxRows = body.int32();
      const portal = this.portals.get(name);
      if (portal === undefined)
        throw new PgError(SQLSTATE.invalidCursorName, `portal "${name}" does not exist`);
      if (portal.query === undefined) {
        this.out.simple("I");
        return;
      }
      this.checkTransaction(portal.query, "");
      portal.result ??= await this.runQuery(portal.query, portal.params);
      const result = portal.result;
      const end =
        maxRows > 0 ? Math.min(result.rows.length, portal.offset + maxRows) : result.rows.length;
      for (let index = portal.offset; index < end; index++)
        this.out.dataRow(result.rows[index] ?? []);
      const sent = end - portal.offset;
      portal.offset = end;
      if (end < result.rows.length) {
        this.out.simple("s");
        return;
      }
      this.out.commandComplete(result.tag.startsWith("SELECT") ? `SELECT ${sent}` : result.tag);
    } catch (error) {
      this.extendedFailure(error);
    }
  }

  private onClose(): void {
    if (this.context.byProcessId.get(this.processId) === this)
      this.context.byProcessId.delete(this.processId);
    this.phase = "closed";
    this.running?.abort();
    this.context.stats.connectionsOpen--;
    this.context.meter?.connections.set(this.context.stats.connectionsOpen);
  }
}

function fieldsOf(result: Pick<QueryResult, "fields">) {
  return (result.fields ?? []).map((field) => ({
    name: field.name,
    typeOid: PG_TYPES[field.type].oid,
    typeSize: PG_TYPES[field.type].size,
  }));
}
