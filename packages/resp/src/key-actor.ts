import { defineActor } from "@troupe/actors";
import { z } from "zod";
import { executeKeyCommand, KEY_COMMANDS } from "./key-command-table.js";
import { ABSENT, isKeyState, type KeyState, reviveKeyState } from "./key-state.js";
import type { Reply } from "./reply.js";

/** The actor type name of Redis keys. */
export const RESP_KEY_TYPE = "RespKey";

/** Options of {@link defineRespKeyActor}. */
export interface RespKeyActorOptions {
  /**
   * How long after a write the key's state is saved to the Store, in ms. Writes within the
   * window share one save, so a hot list is not rewritten whole on every push; a crash loses at
   * most this window of acknowledged writes (as Redis' `appendfsync everysec` loses a second).
   * A graceful shutdown or idle deactivation saves at once. Default 1000.
   */
  readonly saveDelayMs?: number;
  /** Idle time before a key's actor leaves memory, in ms. Default 60,000. */
  readonly idleTimeoutMs?: number;
}

const commandArgs = z.tuple([z.string().max(64), z.array(z.string())]);

/**
 * Defines the actor type behind Redis keys: one actor per key, its state a {@link KeyState}.
 * Every node of a cluster must host the same definition (same options).
 */
export function defineRespKeyActor(options: RespKeyActorOptions = {}) {
  const saveDelayMs = options.saveDelayMs ?? 1000;
  // Keys with a save timer set, and when it fires. A timer dies with its activation; an entry
  // older than its due time is stale and a new timer is set.
  const scheduled = new Map<string, number>();

  type Ctx = {
    state: KeyState;
    readonly key: string;
    now(): number;
    save(): Promise<void>;
    setTimer(options: { afterMs: number }, callback: (ctx: Ctx) => unknown): unknown;
    setReminder(name: string, schedule: { at: number }): Promise<void>;
  };

  const scheduleSave = (ctx: Ctx, now: number) => {
    const due = scheduled.get(ctx.key);
    if (due !== undefined && now <= due + saveDelayMs + 1000) return;
    scheduled.set(ctx.key, now + saveDelayMs);
    ctx.setTimer({ afterMs: saveDelayMs }, (turn) => {
      scheduled.delete(turn.key);
      // A failed save (the actor moved to another node) drops this activation; nothing to do.
      turn.save().catch(() => undefined);
    });
  };

  const apply = (ctx: Ctx, next: KeyState, now: number) => {
    const previousExpiry = ctx.state.t === "none" ? undefined : ctx.state.x;
    ctx.state = next;
    scheduleSave(ctx, now);
    const expiry = next.t === "none" ? undefined : next.x;
    if (expiry !== undefined && expiry !== previousExpiry) {
      ctx.setReminder("expire", { at: expiry }).catch(() => undefined);
    }
  };

  return defineActor({
    name: RESP_KEY_TYPE,
    key: "string",
    state: z.custom<KeyState>(isKeyState, "expected a Redis key state"),
    initialState: (): KeyState => ({ t: "none" }),
    saveMode: "explicit",
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    actions: {
      /** Runs a command that may change the key; answers its reply. */
      run: {
        args: commandArgs,
        handler: (ctx, name: string, args: string[]): Reply => {
          const now = ctx.now();
          const result = executeKeyCommand(ctx.state, name, args, now);
          if (result.state !== undefined) apply(ctx as unknown as Ctx, result.state, now);
          return result.reply;
        },
      },
      /** Runs a read-only command (beside other reads). */
      read: {
        readOnly: true,
        args: commandArgs,
        handler: (ctx, name: string, args: string[]): Reply => {
          if (KEY_COMMANDS.get(name)?.readOnly !== true) {
            return { error: `ERR '${name}' is not a read-only command` };
          }
          return executeKeyCommand(ctx.state, name, args, ctx.now()).reply;
        },
      },
      /** Runs queued commands in one turn (`MULTI` … `EXEC` on this key). */
      multi: {
        args: z.tuple([z.array(z.tuple([z.string().max(64), z.array(z.string())]))]),
        handler: (ctx, commands: [string, string[]][]): Reply[] => {
          const now = ctx.now();
          const replies: Reply[] = [];
          for (const [name, args] of commands) {
            const result = executeKeyCommand(ctx.state, name, args, now);
            if (result.state !== undefined) apply(ctx as unknown as Ctx, result.state, now);
            replies.push(result.reply);
          }
          return replies;
        },
      },
    },
    onActivate: (ctx) => {
      ctx.state = reviveKeyState(ctx.state);
    },
    onDeactivate: async (ctx) => {
      scheduled.delete(ctx.key);
      await ctx.save();
    },
    reminders: {
      // Exact expiry: the value is already hidden from readers; this frees it.
      expire: async (ctx) => {
        const state = ctx.state;
        if (state.t === "none" || state.x === undefined) return;
        if (state.x <= ctx.now()) {
          ctx.state = ABSENT;
          await ctx.save();
        } else {
          await ctx.setReminder("expire", { at: state.x });
        }
      },
    },
  });
}

/** The key actor with default options. */
export const RespKey = defineRespKeyActor();

/** The type of a key actor definition. */
export type RespKeyActor = ReturnType<typeof defineRespKeyActor>;
