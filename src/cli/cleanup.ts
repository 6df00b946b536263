import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadSigningSecret, Signer } from '../accounts/signing.ts';
import { runSweep } from '../cleanup/sweep.ts';
import { ConfigError, loadConfig } from '../config.ts';
import type { AppContext } from '../context.ts';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { AppError } from '../errors.ts';
import { createObjectStore } from '../storage/index.ts';

/**
 * `npm run cleanup [-- --dry-run] [--json]`: one cleanup sweep with the server's configuration
 * (the same environment), recorded in cleanup_runs like the scheduled ones. Like main.ts, an
 * entry point: it reads process.env and exits.
 */
const USAGE = 'Usage: npm run cleanup -- [--dry-run] [--json]';

let args: { 'dry-run'?: boolean; json?: boolean; help?: boolean };
try {
  args = parseArgs({
    options: {
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

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
if (!config.databaseUrl) {
  // Starting the embedded database here could take it from under the running server.
  console.error(
    'DATABASE_URL is not set. With the embedded database, run the cleanup while Clipdock runs: from the admin page, or POST /api/admin/cleanup.',
  );
  process.exit(1);
}

const log = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
const database = openDatabase(config.databaseUrl, 2);
try {
  await migrateToLatest(database.db, config.databaseUrl);
  const store = await createObjectStore(config.storage);
  const signer = new Signer(await loadSigningSecret(database.db, config.signingSecret));
  const ctx: AppContext = { config, db: database.db, databaseUrl: config.databaseUrl, store, log, signer };
  const run = await runSweep(ctx, { dryRun: args['dry-run'] === true, trigger: 'cli' });
  if (args.json) {
    console.log(JSON.stringify(run, null, 2));
  } else {
    console.log(
      `${run.dryRun ? 'Dry run' : 'Cleanup'} ${run.id}: examined ${run.examined}, ${run.dryRun ? `would repair ${run.details.filter((d) => d.outcome === 'would_repair').length}` : `repaired ${run.repaired}`}, errors ${run.errors}`,
    );
    for (const d of run.details) {
      console.log(
        `  [${d.outcome}] ${d.check} ${d.target}: ${d.reason} -> ${d.action}${d.error ? ` (${d.error})` : ''}`,
      );
    }
  }
  process.exitCode = run.errors > 0 ? 1 : 0;
} catch (err) {
  if (err instanceof AppError) console.error(err.message);
  else console.error(`Cleanup failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
