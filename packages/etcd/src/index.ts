export type { EtcdConnectionOptions } from "./connection.js";
export { createEtcdStore, type EtcdStoreOptions } from "./etcd-store.js";
