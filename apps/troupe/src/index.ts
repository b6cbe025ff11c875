export { builtInCommands, createProgram, type RegisterCommands } from "./program.js";
export { VERSION } from "./version.js";
