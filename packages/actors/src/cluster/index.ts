export { type ClusterNode, type ClusterNodeOptions, createClusterNode } from "./cluster.js";
export {
  type ClusterDirectory,
  type ClusterDirectoryOptions,
  createClusterDirectory,
} from "./directory.js";
export { addressHost, listedNodes, type PeerDiscovery } from "./discovery.js";
export {
  createDnsDiscovery,
  DNS_RECORD_TYPES,
  type DnsDiscoveryOptions,
} from "./dns-discovery.js";
export {
  createMembership,
  hostsType,
  type LeaseLoss,
  type Membership,
  type MembershipOptions,
  type NodeInfo,
} from "./membership.js";
export {
  consistentHashPlacement,
  type Placement,
  placements,
  preferLocalPlacement,
  randomPlacement,
} from "./placement.js";
export {
  createTransportRemoting,
  decodeRemoteCall,
  decodeRemoteReply,
  encodeRemoteCall,
  encodeRemoteReply,
  errorReply,
  type TransportRemotingOptions,
} from "./remoting.js";
