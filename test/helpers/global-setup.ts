import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the test cluster; each test file creates its own database there. */
    pgAdminUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: the machine's own when TEST_DATABASE_URL (or DATABASE_URL)
 * names one, otherwise an embedded one in a temp dir, thrown away afterwards.
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (external) {
    project.provide('pgAdminUrl', external);
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-test-pg-'));
  const pg = await startEmbeddedPostgres({
    dir,
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  project.provide('pgAdminUrl', pg.url);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
