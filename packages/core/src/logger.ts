/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The levels Troupe logs at, quietest last. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/**
 * What Troupe packages log through. Implementations forward to pino, console or anything else;
 * the default is {@link noopLogger}.
 */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation worth recording. */
  info(message: string, fields?: LogFields): void;
  /** Something unexpected that Troupe recovered from. */
  warn(message: string, fields?: LogFields): void;
  /** A failure someone should look at. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Discards everything. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => noopLogger,
};

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Writes one JSON line per entry to stderr, at `level` and above. */
export function createConsoleLogger(level: LogLevel = "info", bound: LogFields = {}): Logger {
  const write = (at: Exclude<LogLevel, "silent">, message: string, fields?: LogFields) => {
    if (ORDER[at] < ORDER[level]) return;
    process.stderr.write(
      `${JSON.stringify({ level: at, time: new Date().toISOString(), msg: message, ...bound, ...fields })}\n`,
    );
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
    child: (fields) => createConsoleLogger(level, { ...bound, ...fields }),
  };
}
