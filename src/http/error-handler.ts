import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.ts';
import { AppError, ERRORS, type ErrorCode } from '../errors.ts';
import { isStorageFull } from '../storage/full.ts';

/** The one place errors become HTTP replies: `{"error":{"code","message"}}`. Never a bare 500 for bad input. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      // 429s and 503s say when to come back, in the header and in details.retryAfterSeconds.
      const retryAfter = err.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      return reply.status(err.status).send({
        error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
      });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => {
        const where = (v.instancePath || '').replace(/^\//, '').replaceAll('/', '.') || err.validationContext;
        return `${where}: ${v.message}`;
      });
      return reply.status(400).send({
        error: {
          code: 'VALIDATION_FAILED',
          message: `Invalid request: ${issues.join('; ')}`,
          details: { issues },
        },
      });
    }
    // A malformed percent-escape in a header the client sent (e.g. the cookie) is the client's fault.
    if (err instanceof URIError) {
      return reply.status(400).send({
        error: {
          code: 'BAD_REQUEST',
          message: `A header or parameter is not valid percent-encoding: ${err.message}.`,
        },
      });
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code: ErrorCode =
        fe.statusCode === 404 ? 'NOT_FOUND' : fe.statusCode === 413 ? 'FILE_TOO_LARGE' : 'BAD_REQUEST';
      const message =
        fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'The body is not valid JSON. Send a JSON object with Content-Type: application/json.'
          : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'Unsupported Content-Type. Send JSON with Content-Type: application/json.'
            : fe.message;
      return reply.status(fe.statusCode).send({ error: { code, message } });
    }
    if (isStorageFull(err)) {
      req.log.error({ err }, 'write refused: storage full');
      return reply.status(507).send({ error: { code: 'STORAGE_FULL', message: ERRORS.STORAGE_FULL[1] } });
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ err }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        .send({ error: { code: 'DATABASE_UNAVAILABLE', message: ERRORS.DATABASE_UNAVAILABLE[1] } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: ERRORS.INTERNAL[1] } });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `No route ${req.method} ${req.url.split('?')[0]}. See /api/docs.`,
      },
    });
  });
}
