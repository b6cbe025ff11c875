export { createJsonFileStore, type JsonFileStoreOptions } from "./json-file-store.js";
