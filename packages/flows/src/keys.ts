/**
 * Store key layout. Every key starts with the engine's prefix; event names are URI-encoded so a
 * name containing "/" can never fall inside another name's range.
 */
export interface FlowKeys {
  /** The engine's prefix every key starts with. */
  readonly prefix: string;
  event(id: string): string;
  eventsAll(): string;
  eventByName(name: string, id: string): string;
  eventsByName(name: string): string;
  dedupe(id: string): string;
  run(id: string): string;
  runsByFunction(functionId: string): string;
  runByFunction(functionId: string, runId: string): string;
  runsAll(): string;
  runAll(runId: string): string;
  waitsFor(eventName: string): string;
  wait(eventName: string, runId: string, slot: string): string;
  markers(): string;
  marker(id: string): string;
  /** Why event `eventId` started no run of `functionId` (flow control). */
  eventSkip(eventId: string, functionId: string): string;
  eventSkips(eventId: string): string;
  /** The runs an event started (or joined, in a batch). */
  runByEvent(eventId: string, runId: string): string;
  runsByEvent(eventId: string): string;
  /** The run waiting for signal `name` (`step.waitForSignal`). */
  signal(name: string): string;
}

/** The keys under `prefix`. */
export function flowKeys(prefix: string): FlowKeys {
  const name = (value: string) => encodeURIComponent(value);
  return {
    prefix,
    event: (id) => `${prefix}e/${id}`,
    eventsAll: () => `${prefix}e/`,
    eventByName: (eventName, id) => `${prefix}en/${name(eventName)}/${id}`,
    eventsByName: (eventName) => `${prefix}en/${name(eventName)}/`,
    dedupe: (id) => `${prefix}dd/${name(id)}`,
    run: (id) => `${prefix}r/${id}`,
    runsByFunction: (functionId) => `${prefix}rf/${name(functionId)}/`,
    runByFunction: (functionId, runId) => `${prefix}rf/${name(functionId)}/${runId}`,
    runsAll: () => `${prefix}ra/`,
    runAll: (runId) => `${prefix}ra/${runId}`,
    waitsFor: (eventName) => `${prefix}w/${name(eventName)}/`,
    wait: (eventName, runId, slot) => `${prefix}w/${name(eventName)}/${runId}/${slot}`,
    markers: () => `${prefix}pe/`,
    marker: (id) => `${prefix}pe/${id}`,
    eventSkip: (eventId, functionId) => `${prefix}es/${eventId}/${name(functionId)}`,
    eventSkips: (eventId) => `${prefix}es/${eventId}/`,
    runByEvent: (eventId, runId) => `${prefix}er/${eventId}/${runId}`,
    runsByEvent: (eventId) => `${prefix}er/${eventId}/`,
    signal: (signalName) => `${prefix}sg/${name(signalName)}`,
  };
}

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The smallest ULID made at `time` (ms): ULIDs sort by time, so this bounds key ranges of
 * ULID-keyed entries by time.
 */
export function ulidFloor(time: number): string {
  let rest = Math.max(0, Math.floor(time));
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return `${out}0000000000000000`;
}
