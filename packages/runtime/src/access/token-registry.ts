import { timingSafeEqual } from "node:crypto";
import { type Clock, createJsonCodec, parseWith, type Store, TroupeError } from "@troupe/core";
import { z } from "zod";
import { isScope, SCOPES, type Scope } from "./scopes.js";
import { hashSecret, newToken, parseToken } from "./token-secret.js";

/** A token as stored and listed (never with its secret). */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** SHA-256 of the secret, hex. */
  readonly hash: string;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** Set once revoked; a revoked token is refused everywhere within `cacheMs`. */
  readonly revokedAt?: number | undefined;
}

/** What a token is listed as: the record without its hash. */
export type TokenInfo = Omit<TokenRecord, "hash">;

const recordSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)).readonly(),
  hash: z.string(),
  createdAt: z.number(),
  revokedAt: z.number().optional(),
});
const codec = createJsonCodec(recordSchema);

/** Validates what a client asks for when it creates a token; errors name the field. */
export const createTokenSchema = z.strictObject({
  name: z
    .string({ error: "expected a string" })
    .regex(/^[A-Za-z0-9._:@-]{1,64}$/, "expected 1-64 letters, digits or ._:@-"),
  scopes: z
    .array(z.string().refine(isScope, { message: `expected one of ${SCOPES.join(", ")}` }), {
      error: "expected an array of scopes",
    })
    .min(1, "expected at least one scope"),
});

/** Options of {@link createTokenRegistry}. */
export interface TokenRegistryOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Key prefix of the records. Default `runtime/tokens/`. */
  readonly prefix?: string;
  /**
   * How long a looked-up record is reused before the Store is read again, in ms: the bound on
   * how late a revocation reaches a process that did not make it. Default 1,000.
   */
  readonly cacheMs?: number;
}

/** Scoped tokens kept hashed in the Store. */
export interface TokenRegistry {
  /** Creates a token; the returned `token` text is the only time its secret is seen. */
  create(input: { name: string; scopes: readonly string[] }): Promise<{
    token: string;
    info: TokenInfo;
  }>;
  /** Every token, newest first, revoked ones included. */
  list(): Promise<TokenInfo[]>;
  /** Revokes `id`; NOT_FOUND when there is no such token. Revoking twice is a no-op. */
  revoke(id: string): Promise<TokenInfo>;
  /** The live token `text` stands for, or undefined (unknown, malformed, wrong secret, revoked). */
  verify(text: string): Promise<TokenInfo | undefined>;
}

const UNKNOWN_HASH = "0".repeat(64);

const info = ({ hash: _hash, ...rest }: TokenRecord): TokenInfo => rest;

/** Creates the registry over `store`. */
export function createTokenRegistry(options: TokenRegistryOptions): TokenRegistry {
  const { store, clock } = options;
  const prefix = options.prefix ?? "runtime/tokens/";
  const cacheMs = options.cacheMs ?? 1000;
  const cache = new Map<string, { record: TokenRecord | undefined; until: number }>();
  const MAX_CACHED = 10_000;

  const read = async (id: string) => {
    const entry = await store.get(`${prefix}${id}`);
    return entry === undefined ? undefined : { record: codec.decode(entry.value), entry };
  };

  const lookup = async (id: string): Promise<TokenRecord | undefined> => {
    const now = clock.now();
    const cached = cache.get(id);
    if (cached !== undefined && cached.until > now) return cached.record;
    const record = (await read(id))?.record;
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(id, { record, until: now + cacheMs });
    return record;
  };

  return {
    async create(input) {
      const request = parseWith(createTokenSchema, input, "", { unknownKey: "unknown field" });
      const { id, secret, text } = newToken();
      const record: TokenRecord = {
        id,
        name: request.name,
        scopes: [...new Set(request.scopes as Scope[])],
        hash: hashSecret(secret),
        createdAt: clock.now(),
      };
      await store.commit([
        { type: "set", key: `${prefix}${id}`, value: codec.encode(record), expect: "absent" },
      ]);
      return { token: text, info: info(record) };
    },
    async list() {
      const entries = await store.list({ prefix });
      return entries
        .map((entry) => info(codec.decode(entry.value)))
        .sort((a, b) => b.createdAt - a.createdAt);
    },
    async revoke(id) {
      for (;;) {
        const found = await read(id);
        if (found === undefined) {
          throw new TroupeError("NOT_FOUND", `no token with id ${JSON.stringify(id)}`, {
            details: { id },
          });
        }
        if (found.record.revokedAt !== undefined) return info(found.record);
        const revoked = { ...found.record, revokedAt: clock.now() };
        try {
          await store.commit([
            {
              type: "set",
              key: `${prefix}${id}`,
              value: codec.encode(revoked),
              expect: found.entry.version,
            },
          ]);
          cache.delete(id);
          return info(revoked);
        } catch (error) {
          if (!TroupeError.isInstance(error, "STORE_CONFLICT")) throw error;
        }
      }
    },
    async verify(text) {
      const parts = parseToken(text);
      if (parts === undefined) return undefined;
      const record = await lookup(parts.id);
      // The secret's hash against the stored one in constant time (both are 64 hex digits, so
      // neither needs hashing again); an unknown id still costs a hash and a compare.
      const presented = Buffer.from(hashSecret(parts.secret), "latin1");
      const stored = Buffer.from(record?.hash ?? UNKNOWN_HASH, "latin1");
      const matches = stored.length === presented.length && timingSafeEqual(presented, stored);
      if (!matches || record === undefined || record.revokedAt !== undefined) return undefined;
      return info(record);
    },
  };
}
