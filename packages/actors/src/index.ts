export type {
  ActorAddress,
  ActorDirectory,
  ActorRemoting,
  Ownership,
  RemoteCall,
  RemoteReply,
} from "./directory.js";
