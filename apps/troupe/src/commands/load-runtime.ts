/**
 * `@troupe/runtime`, imported when a command runs rather than when the program is built: `--help`,
 * a usage error and the commands that need no runtime (stats, doctor) start without loading it
 * and everything it pulls in (about a second of CPU per process).
 */
export const loadRuntime = () => import("@troupe/runtime");
