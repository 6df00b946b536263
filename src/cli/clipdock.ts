#!/usr/bin/env node
import { uploadCommand } from './upload/command.ts';
import { CliError, EXIT } from './upload/errors.ts';

/**
 * `clipdock <command>`: the command-line client (package.json "bin"; `npm run upload -- ...`).
 * An entry point like main.ts: it reads process.argv and process.env, and exits.
 */
const HELP = `Usage: clipdock <command> [options]

Commands:
  upload <files or folders...>   Upload videos with tus, resumable (clipdock upload --help)

Server and token: --url / CLIPDOCK_URL, --token / CLIPDOCK_TOKEN (a personal API token).`;

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case 'upload':
      return uploadCommand(rest, {
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
        onInterrupt(handler) {
          let count = 0;
          const listener = () => {
            // A second Ctrl-C does not wait for the uploads to stop.
            if (++count > 1) process.exit(EXIT.interrupted);
            handler();
          };
          process.on('SIGINT', listener);
          process.on('SIGTERM', listener);
          return () => {
            process.off('SIGINT', listener);
            process.off('SIGTERM', listener);
          };
        },
      });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      throw new CliError('USAGE', `Unknown command "${command}".\n\n${HELP}`, EXIT.usage);
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`clipdock: ${err.message}\n`);
    process.exitCode = err.exitCode;
    // Scripts reading --json get the failure in the same shape as a result.
    if (rest.includes('--json')) {
      const error = { code: err.code, message: err.message };
      process.stdout.write(`${JSON.stringify({ ok: false, exitCode: err.exitCode, error }, null, 2)}\n`);
    }
  } else {
    process.stderr.write(`clipdock: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.server;
  }
}
