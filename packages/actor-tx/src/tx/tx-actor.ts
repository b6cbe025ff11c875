import {
  type ActionSpec,
  type ActorContext,
  type ActorDefinition,
  type ActorTimer,
  activationMemory,
  defineActor,
  type KeyKind,
  type KeyOf,
  stageWrite,
} from "@troupe/actors";
import { invalidArgument, parseWith, type StoreOp } from "@troupe/core";
import { z } from "zod";
import { txError } from "../errors.js";
import { cloneState } from "./clone-state.js";
import { DECISION_LOG_TYPE } from "./decision-log.js";
import {
  abortPrepared,
  applyDecision,
  commitPrepared,
  judgePrepare,
  type PreparedLock,
  recordPrepared,
  type TxState,
  unlocked,
} from "./participant-state.js";
import { type StagedParticipant, type StagingTx, stagingFor } from "./staging.js";
import { existingIdentity } from "./store-identity.js";
import { DraftSlot, type StateSlot, ValueContext } from "./value-context.js";

/** The internal actions every transactional actor gets (user actions may not use these names). */
export const TX_ACTIONS = ["txPrepare", "txCommit", "txAbort", "txResolve", "txLock"] as const;

/** A transactional action: a handler, or a handler with an argument schema (checked on every step). */
export type TxActionSpec<Ctx> =
  | ((ctx: Ctx, ...args: never[]) => unknown)
  | { readonly handler: (ctx: Ctx, ...args: never[]) => unknown; readonly args?: z.ZodType };

/** What `defineTxActor` takes: `defineActor`'s fields plus the transactional actions. */
export interface TxActorSpec<
  K extends KeyKind,
  S extends z.ZodType,
  A extends Record<string, ActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
  T extends Record<string, TxActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
> {
  /** The type name (the rules of `defineActor`). */
  readonly name: string;
  /** The key kind. */
  readonly key: K;
  /** The schema of the committed value. */
  readonly state: S;
  /** The value of an actor that has never been saved. */
  readonly initialState: (key: KeyOf<K>) => z.output<S>;
  /** Ordinary actions: write turns fail with `TX_LOCKED` while a transaction is prepared here. */
  readonly actions: A;
  /**
   * Actions a transaction may call (`tx.call(ref, name, ...args)`). Inside a transaction a step
   * runs on a copy and becomes visible only when the transaction commits; called directly
   * (outside a transaction) it is an ordinary write turn.
   */
  readonly transactional: T;
  /** Runs after the state is loaded (with `ctx.state` the committed value). */
  readonly onActivate?: (ctx: ActorContext<z.output<S>, KeyOf<K>>) => unknown;
  /** As in `defineActor`. */
  readonly idleTimeoutMs?: number;
  /** As in `defineActor`. */
  readonly mailboxSize?: number;
  /** As in `defineActor`. */
  readonly callTimeoutMs?: number;
}

type AnyHandler = (ctx: unknown, ...args: unknown[]) => unknown;
type AnyCtx = ActorContext<unknown, unknown>;

interface Normalized {
  readonly handler: AnyHandler;
  readonly readOnly: boolean;
  readonly interleave: boolean;
  readonly args: z.ZodType | undefined;
  readonly options: Record<string, unknown>;
}

function normalize(spec: unknown): Normalized {
  if (typeof spec === "function") {
    return {
      handler: spec as AnyHandler,
      readOnly: false,
      interleave: false,
      args: undefined,
      options: {},
    };
  }
  const { handler, ...options } = spec as { handler: AnyHandler } & Record<string, unknown>;
  return {
    handler,
    readOnly: options.readOnly === true,
    interleave: options.interleave === true,
    args: options.args as z.ZodType | undefined,
    options,
  };
}

/** How long after its deadline a prepared actor asks the decision record for the outcome. */
const RESOLVE_SLACK_MS = 50;
/** How long a failed resolution waits before it asks again. */
const RESOLVE_RETRY_MS = 1_000;
/** The activation-memory key of a staged (in-memory) prepared step. */
const STAGED = "troupe.tx.staged";
/** The activation-memory key of the activation's resolution timer (see `armResolution`). */
const RESOLUTION = "troupe.tx.resolution";

/** The resolution timer armed on an activation, and when it fires. */
interface ResolutionTimer {
  readonly timer: ActorTimer;
  readonly dueAt: number;
}

/**
 * What `txPrepare` answers when the coordinator named its Store's data (`home`): the step's
 * result and, for a step staged for a coordinator in another process, the participant's fenced
 * state write for the coordinator to commit with the decision record.
 */
export interface PrepareAnswer {
  readonly r: unknown;
  readonly s?: readonly StoreOp[];
}

/**
 * What `txPrepare` returns: the step's result, or with `home` (the coordinator named its Store's
 * data) a PrepareAnswer carrying the participant's write when it staged for a coordinator in
 * another process. A module function: prepares are the hot path, and a closure per call costs.
 */
function prepareAnswer(
  home: string | undefined,
  txId: string,
  r: unknown,
  own: StagedParticipant | undefined,
): unknown {
  if (home === undefined) return r;
  return own?.remote && own.lock.txId === txId
    ? ({ r, s: own.write.ops } satisfies PrepareAnswer)
    : ({ r } satisfies PrepareAnswer);
}

/** The in-memory lock of a one-phase transaction on this activation, if any. */
function stagedOn(ctx: AnyCtx): StagedParticipant | undefined {
  return activationMemory(ctx).get(STAGED) as StagedParticipant | undefined;
}

/** The lock that holds the actor: the in-memory one of a one-phase transaction, or the stored one. */
function heldLock(ctx: AnyCtx): PreparedLock<unknown> | null | undefined {
  return stagedOn(ctx)?.lock ?? (ctx.state as TxState<unknown>).lock;
}

/**
 * Defines an actor whose `transactional` actions can take part in transactions across actors
 * (`createTransactions(...).run(async (tx) => { await tx.call(ref, "withdraw", 10); … })`).
 * The stored state is `{ value, lock }`: `value` is the committed state the handlers see, `lock`
 * the prepared transaction (at most one at a time: the actor is locked from prepare to commit or
 * abort). Register the decision log's actor (`createDecisionLog`) with the same system.
 */
export function defineTxActor<
  const K extends KeyKind,
  S extends z.ZodType,
  A extends Record<string, ActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
  T extends Record<string, TxActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
>(spec: TxActorSpec<K, S, A, T>): ActorDefinition<K, TxState<z.output<S>>, A & T> {
  const label = `defineTxActor(${String((spec as { name?: unknown })?.name)})`;
  const transactional = parseWith(
    z.record(z.string(), z.unknown()),
    (spec as { transactional?: unknown })?.transactional,
    `${label}.transactional`,
  );
  const ordinary = parseWith(
    z.record(z.string(), z.unknown()),
    (spec as { actions?: unknown })?.actions ?? {},
    `${label}.actions`,
  );
  const type = spec.name;
  const txHandlers = new Map<string, Normalized>();
  for (const [name, action] of Object.entries(transactional)) {
    if (name in ordinary) {
      throw invalidArgument(
        `${label}.transactional.${name}`,
        "is also an ordinary action; an action is one or the other",
      );
    }
    txHandlers.set(name, normalize(action));
  }
  const reserved = new Set<string>(TX_ACTIONS);
  for (const name of [...Object.keys(ordinary), ...txHandlers.keys()]) {
    if (reserved.has(name)) {
      throw invalidArgument(
        `${label}.actions.${name}`,
        `is reserved for transactions (${TX_ACTIONS.join(", ")})`,
      );
    }
  }

  const valueSlot = (ctx: AnyCtx): StateSlot => ({
    get: () => (ctx.state as TxState<unknown>).value,
    set: (value) => {
      const lock = (ctx.state as TxState<unknown>).lock;
      ctx.state = lock ? { value, lock } : unlocked(value);
    },
  });
  const refuseWhileLocked = (ctx: AnyCtx, action: string) => {
    const lock = heldLock(ctx);
    if (lock) {
      throw txError(
        "TX_LOCKED",
        `${type}/${ctx.address.key}: "${action}" cannot run while transaction ${lock.txId} is prepared here; retry after it commits or aborts`,
        { address: ctx.address, action, txId: lock.txId },
      );
    }
  };

  // One resolution timer per activation: it asks the decision record once the coordinator's
  // deadline has passed, so a prepared actor whose coordinator died resolves without anyone
  // calling it. It is armed when a prepare finds none due early enough and never cancelled: a
  // commit or abort leaves it to fire, find the actor unlocked (or locked by a later transaction,
  // whose deadline it re-arms for) and do nothing. A busy actor so arms one timer per timeout
  // instead of one per transaction. It is kept in the activation's memory, so it ends with the
  // activation (whose timers end with it) and keeps nothing of it alive afterwards; each
  // activation starts with none (`onActivate` arms one for a lock it loads).
  const armResolution = (ctx: AnyCtx, deadline: number) => {
    const memory = activationMemory(ctx);
    const dueAt = deadline + RESOLVE_SLACK_MS;
    const armed = memory.get(RESOLUTION) as ResolutionTimer | undefined;
    if (armed !== undefined) {
      if (armed.dueAt <= dueAt) return;
      armed.timer.cancel();
    }
    const timer = ctx.setTimer({ afterMs: Math.max(0, Math.ceil(dueAt - ctx.now())) }, (timerCtx) =>
      onResolutionTimer(timerCtx),
    );
    memory.set(RESOLUTION, { timer, dueAt } satisfies ResolutionTimer);
  };
  const onResolutionTimer = async (ctx: AnyCtx): Promise<void> => {
    activationMemory(ctx).delete(RESOLUTION);
    const staged = stagedOn(ctx);
    if (staged !== undefined) {
      if (staged.lock.deadline + RESOLVE_SLACK_MS > ctx.now()) {
        armResolution(ctx, staged.lock.deadline);
      } else if (staged.remote) {
        // The coordinator may have committed the staged write with its decision: ask the record.
        await resolveStaged(ctx, staged);
      } else if (staged.tx.phase !== "committing") {
        // The coordinator (in this process) did not commit by its deadline: give up the step.
        // Once the one-phase commit was sent, only the coordinator ends the lock.
        staged.dropped = true;
        staged.release();
      }
      return;
    }
    const lock = (ctx.state as TxState<unknown>).lock;
    if (!lock) return;
    if (lock.deadline + RESOLVE_SLACK_MS > ctx.now()) {
      armResolution(ctx, lock.deadline);
      return;
    }
    await resolveHere(ctx);
  };
  const retryResolution = (ctx: AnyCtx) => {
    const retry = ctx.setTimer({ afterMs: RESOLVE_RETRY_MS }, (timerCtx) =>
      onResolutionTimer(timerCtx),
    );
    const memory = activationMemory(ctx);
    (memory.get(RESOLUTION) as ResolutionTimer | undefined)?.timer.cancel();
    memory.set(RESOLUTION, {
      timer: retry,
      dueAt: ctx.now() + RESOLVE_RETRY_MS,
    } satisfies ResolutionTimer);
  };
  /** A remotely staged step whose outcome never came: the decision record settles it. */
  const resolveStaged = async (ctx: AnyCtx, staged: StagedParticipant): Promise<void> => {
    let decision: "committed" | "aborted";
    try {
      decision = (await ctx
        .ref({ type: DECISION_LOG_TYPE, key: staged.lock.txId })
        .call("resolve")) as "committed" | "aborted";
    } catch {
      retryResolution(ctx);
      return;
    }
    if (stagedOn(ctx) !== staged) return; // phase 2 arrived meanwhile
    // Committed: the staged write is in the Store, so it becomes the state. Aborted (the record
    // says so for good): it never lands, and the committed value stays.
    if (decision === "committed") staged.write.adopt();
    staged.release();
  };
  const resolveHere = async (ctx: AnyCtx): Promise<"committed" | "aborted" | null> => {
    const lock = (ctx.state as TxState<unknown>).lock;
    if (!lock) return null;
    let decision: "committed" | "aborted";
    try {
      decision = (await ctx.ref({ type: DECISION_LOG_TYPE, key: lock.txId }).call("resolve")) as
        | "committed"
        | "aborted";
    } catch {
      retryResolution(ctx);
      return null;
    }
    ctx.state = applyDecision(ctx.state as TxState<unknown>, lock.txId, decision);
    return decision;
  };

  /**
   * The first step of a transaction: kept in memory (an in-memory lock, no Store write) when its
   * state write can go in the coordinator's commit. "local": coordinated in this process, whose
   * decision records share this actor's Store object (one-phase commit when every participant
   * is local). "remote": coordinated elsewhere, on a Store that reaches the same data (`home`),
   * so the write travels back to the coordinator. Undefined when it must be prepared durably.
   */
  const stageStep = async (
    ctx: AnyCtx,
    txId: string,
    deadline: number,
    next: unknown,
    result: unknown,
    home: string | undefined,
  ): Promise<StagedParticipant | undefined> => {
    const local = stagingFor(txId);
    if (local === undefined && home === undefined) return undefined;
    const write = await stageWrite(ctx, unlocked(next));
    let staging: StagingTx;
    if (local !== undefined && write.store === local.store && local.phase === "open") {
      staging = local;
    } else if (home !== undefined && (await existingIdentity(write.store, ctx.now())) === home) {
      staging = { txId, store: write.store, phase: "open", participants: new Map() };
    } else {
      return undefined;
    }
    const memory = activationMemory(ctx);
    const participant: StagedParticipant = {
      ref: { type, key: (ctx.key ?? null) as string | number | null },
      tx: staging,
      lock: { txId, deadline, next, results: [result] },
      write,
      dropped: false,
      remote: staging !== local,
      release() {
        if (memory.get(STAGED) === participant) memory.delete(STAGED);
      },
    };
    memory.set(STAGED, participant);
    if (!participant.remote) {
      staging.participants.set(`${ctx.address.type}/${ctx.address.key}`, participant);
    }
    armResolution(ctx, deadline);
    return participant;
  };

  const actions: Record<string, unknown> = {};
  for (const [name, action] of Object.entries(ordinary)) {
    const { handler, readOnly, interleave, options } = normalize(action);
    actions[name] = {
      ...options,
      handler: (ctx: AnyCtx, ...args: unknown[]) => {
        if (!readOnly && !interleave) refuseWhileLocked(ctx, name);
        return handler(new ValueContext(ctx, valueSlot(ctx)), ...args);
      },
    };
  }
  for (const [name, { handler, args }] of txHandlers) {
    actions[name] = {
      ...(args === undefined ? {} : { args }),
      handler: (ctx: AnyCtx, ...callArgs: unknown[]) => {
        refuseWhileLocked(ctx, name);
        return handler(new ValueContext(ctx, valueSlot(ctx)), ...callArgs);
      },
    };
  }

  actions.txPrepare = {
    args: z.tuple([
      z.string(),
      z.number().int().min(0),
      z.string(),
      z.array(z.unknown()),
      z.number(),
      z.string().optional(),
    ]),
    async handler(
      ctx: AnyCtx,
      txId: string,
      step: number,
      action: string,
      callArgs: unknown[],
      deadline: number,
      home?: string,
    ) {
      const staged = stagedOn(ctx);
      const state: TxState<unknown> =
        staged === undefined
          ? (ctx.state as TxState<unknown>)
          : { value: (ctx.state as TxState<unknown>).value, lock: staged.lock };
      const verdict = judgePrepare(state, txId, step);
      if (verdict.kind === "replay") return prepareAnswer(home, txId, verdict.result, staged);
      if (verdict.kind === "busy") {
        throw txError(
          verdict.die ? "TX_CONFLICT" : "TX_BUSY",
          `${type}/${ctx.address.key} is held by the ${verdict.die ? "older" : "younger"} transaction ${verdict.holder}`,
          { holder: verdict.holder },
        );
      }
      if (verdict.kind === "out-of-order") {
        throw invalidArgument(
          "step",
          `transaction ${txId} sent step ${step} to ${type}/${ctx.address.key}, expected ${verdict.expected}`,
        );
      }
      const spec = txHandlers.get(action);
      if (spec === undefined) {
        if (action in ordinary) {
          throw txError(
            "TX_NOT_TRANSACTIONAL",
            `${type}.${action} is not a transactional action; declare it under "transactional" to call it in a transaction (transactional: ${[...txHandlers.keys()].join(", ")})`,
            { type, action },
          );
        }
        throw invalidArgument(
          "action",
          `${type} has no transactional action ${JSON.stringify(action)} (transactional: ${[...txHandlers.keys()].join(", ")})`,
        );
      }
      const checked =
        spec.args === undefined
          ? callArgs
          : (parseWith(spec.args, callArgs, `${type}.${action} arguments`) as unknown[]);
      if (deadline <= ctx.now()) {
        throw txError("TX_TIMEOUT", `transaction ${txId} passed its deadline`, { txId });
      }
      const base = verdict.base === "value" ? state.value : state.lock?.next;
      // The step runs on a copy: the committed value stays what every other reader sees.
      const slot = new DraftSlot(cloneState(base));
      const result = await spec.handler(new ValueContext(ctx, slot), ...checked);
      const draft = slot.draft;
      if (staged !== undefined) {
        // A later step of a one-phase transaction: still in memory only.
        staged.write = await stageWrite(ctx, unlocked(draft));
        staged.lock = recordPrepared(state, txId, deadline, draft, result)
          .lock as PreparedLock<unknown>;
        return prepareAnswer(home, txId, result, staged);
      }
      if (verdict.base === "value") {
        const own = await stageStep(ctx, txId, deadline, draft, result, home);
        if (own !== undefined) return prepareAnswer(home, txId, result, own);
      }
      ctx.state = recordPrepared(ctx.state as TxState<unknown>, txId, deadline, draft, result);
      if (verdict.base === "value") armResolution(ctx, deadline);
      return prepareAnswer(home, txId, result, undefined);
    },
  };
  actions.txCommit = {
    idempotent: true,
    args: z.tuple([z.string()]),
    handler(ctx: AnyCtx, txId: string) {
      const staged = stagedOn(ctx);
      if (staged?.remote && staged.lock.txId === txId) {
        // The coordinator's commit wrote the staged state: it becomes the activation's.
        staged.write.adopt();
        staged.release();
        return;
      }
      ctx.state = commitPrepared(ctx.state as TxState<unknown>, txId);
    },
  };
  actions.txAbort = {
    idempotent: true,
    args: z.tuple([z.string()]),
    handler(ctx: AnyCtx, txId: string) {
      const staged = stagedOn(ctx);
      if (staged?.remote && staged.lock.txId === txId) {
        staged.release(); // the staged write never lands: the decision record says aborted
        return;
      }
      ctx.state = abortPrepared(ctx.state as TxState<unknown>, txId);
    },
  };
  actions.txResolve = { idempotent: true, handler: resolveHere };
  actions.txLock = {
    readOnly: true,
    handler: (ctx: AnyCtx) => heldLock(ctx)?.txId ?? null,
  };

  const valueSchema = spec.state as z.ZodType;
  const stored = z.object({
    value: valueSchema,
    lock: z
      .object({
        txId: z.string(),
        deadline: z.number(),
        next: valueSchema,
        results: z.array(z.unknown()),
      })
      .nullable()
      .optional(),
  });
  const userOnActivate = spec.onActivate as AnyHandler | undefined;
  const definition = defineActor({
    name: spec.name,
    key: spec.key,
    state: stored,
    initialState: (key: unknown) => unlocked((spec.initialState as (key: unknown) => unknown)(key)),
    actions: actions as Record<string, ActionSpec<AnyCtx>>,
    onActivate: async (ctx: AnyCtx) => {
      const lock = (ctx.state as TxState<unknown>).lock;
      if (lock) armResolution(ctx, lock.deadline);
      if (userOnActivate !== undefined) await userOnActivate(new ValueContext(ctx, valueSlot(ctx)));
    },
    ...(spec.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: spec.idleTimeoutMs }),
    ...(spec.mailboxSize === undefined ? {} : { mailboxSize: spec.mailboxSize }),
    ...(spec.callTimeoutMs === undefined ? {} : { callTimeoutMs: spec.callTimeoutMs }),
  } as never);
  return definition as unknown as ActorDefinition<K, TxState<z.output<S>>, A & T>;
}
