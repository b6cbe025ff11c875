import type { LogFields, Logger, LogLevel } from "@troupe/core";
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

/** Options of {@link createPinoLogger}. */
export interface PinoLoggerOptions {
  /** Lowest level written. Default `info`. */
  readonly level?: LogLevel;
  /** Where lines go. Default: standard output, written synchronously (nothing lost on exit). */
  readonly destination?: DestinationStream;
  /** Fields on every line (e.g. `{ service: "troupe" }`). */
  readonly base?: LogFields;
}

function wrap(logger: PinoLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
    child: (fields) => wrap(logger.child(fields)),
  };
}

/**
 * A Troupe {@link Logger} that writes one JSON line per entry through pino: `level` as a label,
 * `time` as an ISO string, `msg`, then the fields. Errors in fields are serialised with their
 * message and stack.
 */
export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: options.level ?? "info",
      base: { ...(options.base ?? {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: pino.stdSerializers.err, err: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return wrap(logger);
}
