/**
 * How Troupe names map to NATS subjects.
 *
 * NATS splits subjects into tokens at `.`, rejects empty tokens and treats the tokens `*` and `>`
 * as wildcards. Channel names and node ids may contain `.` anywhere (".a", "a..b"), so they are
 * encoded into ONE token: `_` becomes `__` and `.` becomes `_d`; every other allowed character
 * (letters, digits, `-`, `:`, `/`) stays as it is. The encoding is injective (after `_` comes
 * either `_` or `d`), so two names never share a subject, and the common names without `.` or
 * `_` read the same on the wire as in code.
 */
export function encodeSubjectToken(name: string): string {
  return name.replace(/[_.]/g, (character) => (character === "_" ? "__" : "_d"));
}

/** The inverse of {@link encodeSubjectToken}; for tooling and tests. */
export function decodeSubjectToken(token: string): string {
  return token.replace(/_([_d])/g, (_match, code: string) => (code === "_" ? "_" : "."));
}

/** The subject a node listens on: `<prefix>.node.<encoded node id>`. */
export function nodeSubject(prefix: string, nodeId: string): string {
  return `${prefix}.node.${encodeSubjectToken(nodeId)}`;
}

/** The subject a channel is published on: `<prefix>.ps.<encoded channel>`. */
export function channelSubject(prefix: string, channel: string): string {
  return `${prefix}.ps.${encodeSubjectToken(channel)}`;
}

/** The queue group every listener of one prefix joins (see `createNatsTransport`). */
export function listenerQueueGroup(prefix: string): string {
  return `${prefix}.node`;
}
