import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { loadSigningSecret, Signer } from './accounts/signing.ts';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { openDatabase } from './db/database.ts';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.ts';
import { migrateToLatest } from './db/migrate.ts';
import type { VideoEventBus } from './events/event-bus.ts';
import type { LiveHub } from './events/live-hub.ts';
import type { HttpServer } from './http/app.ts';
import type { WorkerHandle } from './jobs/worker.ts';
import { resolveBinaries } from './media/ffmpeg.ts';
import { checkToolchain, type ToolchainInfo } from './media/toolchain.ts';
import { addSocketSource } from './metrics/metrics.ts';
import { createObjectStore } from './storage/index.ts';

export interface Clipdock {
  /** Base URL of the HTTP API, when this node serves it. */
  url: string | undefined;
  /** Where this node serves /metrics and health: the API, or a worker-only node's own listener. */
  metricsUrl: string | undefined;
  ctx: AppContext;
  http: HttpServer | undefined;
  /** The live-status machinery of an API node: its event listener and its WebSocket clients. */
  live: { bus: VideoEventBus; hub: LiveHub } | undefined;
  stop(): Promise<void>;
}

/**
 * Starts one Clipdock node: the database (embedded unless DATABASE_URL is set), migrations,
 * storage, then the API and/or the worker per CLIPDOCK_ROLE. `stop()` undoes it all, in reverse.
 */
export async function startClipdock(config: Config, log: FastifyBaseLogger): Promise<Clipdock> {
  const stack: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stack.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'error while stopping');
      }
    }
    stack.length = 0;
  };
  try {
    // Before anything starts: a node whose media tools cannot serve refuses with one sentence
    // (ToolchainError). Only the worker runs ffmpeg/ffprobe; an API-only node does not need them.
    let toolchain: ToolchainInfo | undefined;
    if (config.role !== 'api') {
      toolchain = await checkToolchain(resolveBinaries(config.media), config.media);
      log.info(
        { ffmpeg: toolchain.ffmpeg, ffprobe: toolchain.ffprobe },
        `media tools: ffmpeg ${toolchain.ffmpeg.version} (${toolchain.ffmpeg.path}), ffprobe ${toolchain.ffprobe.version} (${toolchain.ffprobe.path})`,
      );
    }
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
        dir: path.join(config.dataDir, 'db'),
        ownedRoot: config.dataDir,
        notice: (message) => log.info(message),
      });
      stack.push(() => embedded.stop());
      databaseUrl = embedded.url;
      log.info('embedded PostgreSQL started');
    }
    const database = openDatabase(databaseUrl, config.databasePoolSize, log);
    stack.push(() => database.close());
    await migrateToLatest(database.db, databaseUrl);

    const store = await createObjectStore(config.storage);
    const signer = new Signer(await loadSigningSecret(database.db, config.signingSecret));
    const ctx: AppContext = { config, db: database.db, databaseUrl, store, log, signer, toolchain };

    // Each role loads only its own modules: a worker-only node never loads the HTTP stack (and
    // an API-only node not the pipeline), which keeps its memory down.
    let worker: WorkerHandle | undefined;
    if (config.role !== 'api') {
      const [{ startWorker }, { workerTasks, workerCrontab }] = await Promise.all([
        import('./jobs/worker.ts'),
        import('./tasks.ts'),
      ]);
      worker = await startWorker(ctx, workerTasks(ctx), { crontab: workerCrontab });
      stack.push(() => worker!.stop());
      const { startRecoveryLoop } = await import('./processing/recovery-loop.ts');
      const recovery = startRecoveryLoop(ctx);
      stack.push(() => recovery.stop());
    }
    let metricsUrl: string | undefined;
    if (config.role === 'worker') {
      const { startMetricsListener } = await import('./metrics/listener.ts');
      const listener = await startMetricsListener(ctx, config.ops.metricsPort ?? config.port);
      if (listener) stack.push(() => listener.close());
      metricsUrl = listener?.url;
    }

    let http: HttpServer | undefined;
    let url: string | undefined;
    let live: Clipdock['live'];
    if (config.role !== 'worker') {
      const [{ PgEventBus }, { LiveHub }, { buildHttpServer }, { webRoutes }, { wsRoutes }] =
        await Promise.all([
          import('./events/pg-event-bus.ts'),
          import('./events/live-hub.ts'),
          import('./http/app.ts'),
          import('./http/routes/web.ts'),
          import('./http/routes/ws.ts'),
        ]);
      // Listening before serving: a client's first snapshot is read after the LISTEN, so every
      // change after it arrives as an event.
      const bus = new PgEventBus({ databaseUrl, log: log.child({ component: 'events' }) });
      await bus.start();
      stack.push(() => bus.stop());
      const hub = new LiveHub({
        bus,
        db: ctx.db,
        log,
        pingIntervalMs: config.livePingIntervalSeconds * 1000,
        maxSocketsPerUser: config.connections.maxSocketsPerUser,
      });
      hub.start();
      const removeSocketSource = addSocketSource(() => hub.connectionCount);
      stack.push(async () => void removeSocketSource());
      stack.push(async () => hub.stop());
      live = { bus, hub };
      http = await buildHttpServer(ctx, [wsRoutes(hub), webRoutes]);
      stack.push(() => http!.close());
      const address = await http.app.listen({ port: config.port, host: config.host });
      url = config.publicUrl ?? address.replace(/\/\/(0\.0\.0\.0|127\.0\.0\.1|\[::1?\])/, '//localhost');
    }
    return { url, metricsUrl: metricsUrl ?? url, ctx, http, live, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
