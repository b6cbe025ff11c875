import { TroupeError } from "@troupe/core";
import { builtInCommands, createProgram } from "./program.js";

const program = createProgram(builtInCommands);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Expected failures (bad input, an unreachable engine) print their message, not a stack.
  if (TroupeError.isInstance(error)) {
    process.stderr.write(`troupe: ${error.message} [${error.code}]\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
