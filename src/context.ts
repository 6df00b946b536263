import type { FastifyBaseLogger } from 'fastify';
import type { Signer } from './accounts/signing.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { ToolchainInfo } from './media/toolchain.ts';
import type { ObjectStore } from './storage/object-store.ts';

/**
 * What the services need from the outside world, built once in `src/main.ts` (or a test) and
 * passed down. No module reaches for globals or `process.env`.
 */
export interface AppContext {
  config: Config;
  db: Db;
  /** Connection string of the same database, for dedicated connections (LISTEN, locks, graphile-worker). */
  databaseUrl: string;
  store: ObjectStore;
  log: FastifyBaseLogger;
  /** The media tools this node checked at start (a node that runs the worker); absent on API-only nodes. */
  toolchain?: ToolchainInfo;
  /** Signs media URLs and live-socket tokens with SIGNING_SECRET (or the one kept in the database). */
  signer: Signer;
}
