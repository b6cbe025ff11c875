/** What one soak node is told (as JSON in SOAK_NODE). */
export interface SoakNodeSettings {
  readonly nodeId: string;
  readonly postgresUrl: string;
  readonly schema: string;
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  readonly actorLeaseMs: number;
  readonly flowsLeaseMs: number;
}

/** Strong test secrets (start mode refuses weak ones); they guard nothing outside the soak. */
export const SOAK_SECRETS = {
  token: "soak-token-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e",
  signingKey: `signkey-prod-${"0123456789abcdef".repeat(2)}`,
  eventKey: "soak-event-key-3b9e1f7a2c6d0e8b4f1a5c9d7e3b2a6f",
} as const;
