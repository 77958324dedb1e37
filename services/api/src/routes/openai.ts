import { Router, type Response } from 'express';
import { z } from 'zod';
import { ApiError, parseOrThrow, type JobEvent, type JobObject } from '@spool/contracts';
import { parseJobRecord } from '@spool/jobs';
import { eventData } from '@spool/stream';
import type { AppDeps } from '../deps.js';
import { jsonBody } from '../body.js';
import { submitJob, validateJobRequest } from '../submit-job.js';
import { submissionSpan } from '../trace-context.js';
import { admitted } from '../client-rate-limit.js';
import { cancelJob } from '../cancel-job.js';
import { chatCompletion, chunk, jobFailure, usageChunk } from '../openai-format.js';
import type { TenantSlots } from '../tenant-slots.js';
import { ModelList } from '../model-list.js';
import { CACHE_TTL_HEADER, withCacheHeader } from '../cache-header.js';

/** The fields of OpenAI's request the queue changes the meaning of. */
const DoorFields = z.looseObject({
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  n: z.literal(1).nullish(),
});

async function failureFor(deps: AppDeps, job: JobObject): Promise<ApiError> {
  const fields = await deps.jobs.get(job.id).catch(() => null);
  return jobFailure(job, (fields && parseJobRecord(fields).upstream_status) ?? undefined);
}

/**
 * The answer once a door call has waited as long as it may. The job goes on; the SDK is told not
 * to retry, as a retry would submit it again.
 */
function waitTimeout(job: JobObject, waitMs: number): ApiError {
  const message = `The job did not end within ${waitMs / 1000} s; it goes on: GET /v1/jobs/${job.id} for its result`;
  return new ApiError(504, 'api_error', 'job_wait_timeout', message, null, { 'x-should-retry': 'false' });
}

/**
 * Follows a job's events for an OpenAI-style answer: `onEvent` until `done`; the job is cancelled
 * if the client goes away first (nobody is left to read the reply). Rejects with a 504 after
 * `deps.doorWaitMs`.
 */
async function follow(deps: AppDeps, res: Response, job: JobObject, onEvent: (event: JobEvent) => Promise<void> | void): Promise<void> {
  const waitMs = deps.doorWaitMs ?? 3_600_000;
  await new Promise<void>((resolve, reject) => {
    let finished = false;
    // The job's `done` has come: a client leaving now (the answer's own end closes it) leaves nothing to cancel.
    let jobEnded = false;
    let unwatch: (() => void) | undefined;
    const end = (error?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unwatch?.();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => end(waitTimeout(job, waitMs)), waitMs);
    res.on('close', () => {
      if (finished) return;
      end();
      if (!jobEnded) void deps.jobs.get(job.id).then((fields) => fields && cancelJob(deps, job.id, fields)).catch(() => undefined);
    });
    deps.hub
      .watch(job.id, 0, (event) => {
        if (finished) return;
        if (event.event === 'done') jobEnded = true;
        Promise.resolve(onEvent(event)).then(() => event.event === 'done' && end(), end);
      })
      .then((stop) => {
        unwatch = stop;
        if (finished) stop();
      }, end);
  });
}

/** `POST /v1/chat/completions` and `GET /v1/models`: OpenAI's API, through the queue. */
export function openaiRouter(deps: AppDeps, slots: TenantSlots): Router {
  const router = Router();
  const models = new ModelList(deps.config);

  router.post('/v1/chat/completions', ...jsonBody('1mb'), async (req, res) => {
    const door = parseOrThrow(DoorFields, req.body);
    const cacheTtl = req.header(CACHE_TTL_HEADER);
    // Without the header (the usual call) the body is the job's request: validated while the rate limit is decided.
    const validated = cacheTtl === undefined ? validateJobRequest(req.body) : undefined;
    await admitted(res);
    // A stream counts against the tenant's SSE streams, refused before its job is made.
    if (door.stream) res.on('close', slots.take(res.locals.tenant));
    const body = withCacheHeader(req.body as Record<string, unknown>, cacheTtl);
    const job = await submitJob(deps, res.locals.tenant, body, { validated, span: submissionSpan(res) });
    res.setHeader('x-spool-job-id', job.id);

    if (!door.stream) {
      let finished: JobObject | null = null;
      await follow(deps, res, job, (event) => {
        if (event.event === 'done') finished = eventData(event, 'done')!;
      });
      if (!finished || res.writableEnded || res.destroyed) return;
      const done = finished as JobObject;
      if (done.status !== 'succeeded') throw await failureFor(deps, done);
      res.json(chatCompletion(done));
      return;
    }

    const includeUsage = door.stream_options?.include_usage === true;
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(chunk(job, { role: 'assistant', content: '', refusal: null }));
    };
    await follow(deps, res, job, async (event) => {
      if (event.event === 'delta') {
        start();
        res.write(chunk(job, { content: eventData(event, 'delta')!.content }));
      } else if (event.event === 'done') {
        const done = eventData(event, 'done')!;
        if (done.status !== 'succeeded') {
          const failure = await failureFor(deps, done);
          // Before any text the client gets a real HTTP error; after, the SDK's in-stream error.
          if (!started) throw failure;
          res.write(`data: ${JSON.stringify(failure.toEnvelope())}\n\n`);
          res.end();
          return;
        }
        start();
        res.write(chunk(job, {}, done.result!.finish_reason));
        if (includeUsage) res.write(usageChunk(done));
        res.write('data: [DONE]\n\n');
        res.end();
      }
    }).catch((error: unknown) => {
      // Once the stream has begun, an error can only go in it, as OpenAI's does.
      if (!started || !(error instanceof ApiError)) throw error;
      res.end(`data: ${JSON.stringify(error.toEnvelope())}\n\n`);
    });
  });

  router.get('/v1/models', async (_req, res) => {
    res.json({ object: 'list', data: await models.list() });
  });

  return router;
}
