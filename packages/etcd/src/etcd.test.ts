import { describeStore, type SuiteContext } from "@troupe/testkit";
import { deletePrefix, etcdUrl, testPrefix } from "../test/etcd-env.js";
import { createEtcdStore } from "./etcd-store.js";

// Every test gets its own key prefix from context.id, so tests (and other runs sharing this etcd)
// never see each other's keys; destroy deletes that prefix. When etcd is unreachable, every
// operation fails with UNAVAILABLE, so the suite fails rather than skips.
const store = (context: SuiteContext) =>
  createEtcdStore({ url: etcdUrl, prefix: testPrefix(context.id), maxTxnOps: 4096 });
const destroy = async (context: SuiteContext) => {
  await deletePrefix(testPrefix(context.id));
};

describeStore("etcd", { create: store, openPeer: store, reopen: store, destroy });
