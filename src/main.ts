// First: sizes libuv's thread pool before anything uses it.
import './threadpool.ts';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';
import { ToolchainError } from './media/toolchain.ts';
import { startClipdock } from './server.ts';

/**
 * `npm start`. The only module that reads process.env and handles signals.
 * SIGINT/SIGTERM/SIGHUP stop everything, the embedded PostgreSQL included, then exit.
 */
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const log = pino({
  level: config.logLevel,
  redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token', '*.secretAccessKey'],
});

// The last line of defence: a database error that escaped whoever awaited it (a library's
// promise nobody awaits, during an outage) is logged, never the end of the process. Anything
// else is still fatal, as Node makes it by default.
process.on('unhandledRejection', (reason) => {
  if (!isDatabaseUnavailable(reason)) throw reason;
  log.error({ err: reason }, 'database error nobody handled (the database is unavailable); carrying on');
});

let stopping = false;
const node = await startClipdock(config, log).catch((err: unknown) => {
  // A refusal that says what to do is shown as it is, like a configuration error: no stack.
  if (err instanceof ToolchainError) console.error(err.message);
  else log.fatal({ err }, `Clipdock could not start: ${(err as Error).message}`);
  process.exit(1);
});

// A closed terminal (SIGHUP) stops it as cleanly as Ctrl-C.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, stopping`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

const roleNote = config.role === 'all' ? '' : ` (role: ${config.role})`;
if (node.url) log.info(`Clipdock is running at ${node.url}${roleNote}`);
else log.info(`Clipdock worker is running${roleNote}`);
if (node.url) console.log(`\n  Clipdock is ready: ${node.url}\n`);
