export {
  type AccessControlOptions,
  type AuditEntry,
  type AuditLog,
  type AuditQuery,
  accessControl,
  auditTrail,
  createAuditLog,
  createTokenRegistry,
  grants,
  isScope,
  type Principal,
  requiredScope,
  SCOPES,
  type Scope,
  type TokenInfo,
  type TokenRegistry,
  type WhoAmI,
} from "./access/index.js";
export {
  actorErrorStatus,
  createActorsRoutes,
  keyFromPath,
  parseRuntimeActors,
  type RuntimeActors,
  type RuntimeActorsClusterOptions,
  type RuntimeActorsOptions,
  runtimeActorsSchema,
  type StartRuntimeActorsOptions,
  startRuntimeActors,
} from "./actors-routes.js";
export type { AdapterImporter, AdapterPackage } from "./adapter-loader.js";
export {
  createDashboardApi,
  type DashboardActors,
  type DashboardApiOptions,
  runDetail,
} from "./api/dashboard-api.js";
export {
  type DashboardStatsOptions,
  type StatsExplainResult,
  statsExplain,
  statsResolve,
} from "./api/stats.js";
export type {
  DashboardActorsOverview,
  DashboardActorType,
  DashboardApp,
  DashboardFunction,
  DashboardInfo,
  DashboardPage,
  DashboardRunDetail,
  DashboardStep,
  FlowEvent,
  RunStatus,
  RunSummary,
  SerializedError,
} from "./api/wire-types.js";
export {
  type AppDiscovery,
  type AppDiscoveryOptions,
  createAppDiscovery,
  DISCOVERY_PATHS,
  DISCOVERY_PORTS,
  type ProbeResult,
  probeServeUrl,
} from "./app-discovery.js";
export { type AppSync, type AppSyncOptions, type AppSyncState, createAppSync } from "./app-sync.js";
export { type BearerAuthOptions, bearerAuth, SDK_PATHS } from "./auth.js";
export {
  configFromEnv,
  DEFAULT_PORT,
  DEFAULT_STORAGE_URL,
  defineConfig,
  ENV_VARIABLES,
  LOG_LEVELS,
  type LoadConfigOptions,
  loadRuntimeConfig,
  type MissingSetting,
  missingStartSettings,
  parseRuntimeConfig,
  type RuntimeConfig,
  type RuntimeConfigInput,
  type RuntimeMode,
  readConfigFile,
} from "./config.js";
export {
  API_PATHS,
  findDashboardDir,
  type ServeDashboardOptions,
  serveDashboard,
} from "./dashboard-static.js";
export { createPinoLogger, type PinoLoggerOptions } from "./logger.js";
export {
  createMcpServer,
  MCP_TOOLS,
  type McpCaller,
  type McpDeps,
  mcpHandler,
} from "./mcp/index.js";
export {
  createPrometheusMetrics,
  DEFAULT_BUCKETS,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusMetrics,
} from "./prometheus.js";
export {
  DEFAULT_PGWIRE_PORT,
  DEFAULT_RESP_PORT,
  enableDevProtocols,
  type PgwireConfig,
  type ProtocolConfig,
  type ProtocolPlan,
  type ProtocolServers,
  type ProtocolServersOptions,
  pgwireConfigSchema,
  planProtocolServers,
  type RespConfig,
  respConfigSchema,
  startProtocolServers,
  withProtocolActors,
} from "./protocol-servers.js";
export {
  assertStartConfig,
  createRuntime,
  type InngestApiFactory,
  type RouteGroup,
  type Runtime,
  type RuntimeAddress,
  type RuntimeOptions,
} from "./runtime.js";
export {
  handleShutdownSignals,
  type ShutdownSignalOptions,
  type SignalTarget,
} from "./shutdown.js";
export {
  type StatsServiceConfig,
  type StatsServiceConfigInput,
  statsServiceConfigSchema,
} from "./stats/stats-config.js";
export { createStatsRoutes } from "./stats/stats-routes.js";
export {
  type ActorSummary,
  createStatsService,
  type OutputWrite,
  type RegistryStatus,
  type SnapshotResult,
  type StatsService,
  type StatsServiceOptions,
} from "./stats/stats-service.js";
export {
  openStorage,
  type RuntimeStorage,
  redactUrl,
  type StorageKind,
  type StorageOptions,
  sqlitePath,
  storageKind,
} from "./storage.js";
