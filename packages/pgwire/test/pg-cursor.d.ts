declare module "pg-cursor" {
  import type { Submittable } from "pg";
  /** The part of pg-cursor's API the tests use. */
  export default class Cursor implements Submittable {
    constructor(text: string, values?: unknown[]);
    submit: Submittable["submit"];
    read(rows: number): Promise<Record<string, unknown>[]>;
    close(): Promise<void>;
  }
}
