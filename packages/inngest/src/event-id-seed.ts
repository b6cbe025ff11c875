const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SEED = /^(\d{1,15}),([A-Za-z0-9+/]{14}(?:==)?)$/;
const ENTROPY_MODULUS = 1n << 80n;

const encode = (value: bigint, length: number): string => {
  let text = "";
  let rest = value;
  for (let i = 0; i < length; i++) {
    text = (ALPHABET[Number(rest % 32n)] ?? "0") + text;
    rest /= 32n;
  }
  return text;
};

/**
 * The event ids of a send carrying `x-inngest-event-id-seed: <ms>,<base64 of 10 bytes>`: event
 * `i` gets the ULID with time `<ms>` and entropy `bytes + i` (mod 2^80), so an SDK that retries
 * the same send (same seed) gets the same ids and the engine stores and routes each event once.
 * Undefined for a missing or malformed seed (the events then get fresh ids).
 */
export function eventIdsFromSeed(seed: string | undefined, count: number): string[] | undefined {
  const match = seed === undefined ? null : SEED.exec(seed.trim());
  if (!match) return undefined;
  const ms = Number(match[1]);
  if (!Number.isSafeInteger(ms) || ms >= 2 ** 48) return undefined;
  const bytes = Buffer.from(match[2] ?? "", "base64");
  if (bytes.length !== 10) return undefined;
  const entropy = BigInt(`0x${bytes.toString("hex")}`);
  const time = encode(BigInt(ms), 10);
  return Array.from(
    { length: count },
    (_, index) => time + encode((entropy + BigInt(index)) % ENTROPY_MODULUS, 16),
  );
}
