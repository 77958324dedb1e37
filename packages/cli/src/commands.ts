import { readFile, writeFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import { CliError, SpoolClient, type StreamEvent } from './client.js';

export interface Output {
  write(text: string): void;
  error(text: string): void;
}

function printDeltas(output: Output): (event: StreamEvent) => void {
  return (event) => {
    if (event.event === 'delta') output.write(JSON.parse(event.data).content);
    if (event.event === 'reset') output.error('\n[restarted]\n');
  };
}

function endOf(job: any, output: Output): number {
  if (job.status === 'succeeded') return 0;
  output.error(`\njob ${job.id} ${job.status}: ${job.error?.message ?? ''}\n`);
  return 1;
}

/** `spool submit "prompt"`: the reply as it streams (or at the end); exit 1 if the job did not succeed. */
export async function submit(client: SpoolClient, prompt: string, options: { model?: string; stream?: boolean; maxTokens?: number; priority?: number }, output: Output): Promise<number> {
  const body = {
    messages: [{ role: 'user', content: prompt }],
    ...(options.model && { model: options.model }),
    ...(options.maxTokens && { max_tokens: options.maxTokens }),
    ...(options.priority && { priority: options.priority }),
  };
  const job = await client.request('POST', '/v1/jobs', JSON.stringify(body));
  output.error(`${job.id}\n`);
  let finished: any = null;
  await client.follow(job.id, (event) => {
    if (options.stream) printDeltas(output)(event);
    if (event.event === 'done') finished = JSON.parse(event.data);
  });
  if (!options.stream && finished?.result) output.write(finished.result.content);
  output.write('\n');
  return endOf(finished, output);
}

/** `spool watch <job>`: a job's stream from the start (or after an event id), resuming by itself. */
export async function watch(client: SpoolClient, jobId: string, options: { after?: number }, output: Output): Promise<number> {
  let finished: any = null;
  await client.follow(
    jobId,
    (event) => {
      printDeltas(output)(event);
      if (event.event === 'done') finished = JSON.parse(event.data);
    },
    options.after ?? 0,
  );
  output.write('\n');
  return endOf(finished, output);
}

async function readBatchFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const lines = text.split('\n').filter((line) => line.trim());
  if (lines.length === 0) throw new CliError(`${path} has no requests`);
  lines.forEach((line, index) => {
    try {
      JSON.parse(line);
    } catch {
      throw new CliError(`${path} line ${index + 1} is not valid JSON`);
    }
  });
  return lines.join('\n') + '\n';
}

/** `spool batch in.jsonl -o out.jsonl`: submit, show progress (done/failed/rate/ETA), write the results. */
export async function batch(client: SpoolClient, file: string, options: { out: string; intervalMs?: number; progress?: boolean }, output: Output): Promise<number> {
  const body = await readBatchFile(file);
  let current = await client.request('POST', '/v1/batches', body, 'application/jsonl');
  output.error(`${current.id}: ${current.request_counts.total} requests\n`);
  const bar = new SingleBar({
    format: '{bar} {value}/{total} done, {failed} failed, {rate}/s, ETA {eta_formatted}',
    noTTYOutput: true,
    notTTYSchedule: 2000,
  });
  const startedAt = Date.now();
  if (options.progress !== false) bar.start(current.request_counts.total, 0, { failed: 0, rate: '0.0' });
  while (current.status === 'in_progress' || current.status === 'cancelling') {
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
    current = await client.request('GET', `/v1/batches/${current.id}`);
    const ended = current.request_counts.completed + current.request_counts.failed;
    const rate = (ended / Math.max(0.001, (Date.now() - startedAt) / 1000)).toFixed(1);
    if (options.progress !== false) bar.update(ended, { failed: current.request_counts.failed, rate });
  }
  if (options.progress !== false) bar.stop();
  const results = await client.request('GET', `/v1/batches/${current.id}/results`);
  await writeFile(options.out, results);
  output.error(`${current.status}: ${current.request_counts.completed} completed, ${current.request_counts.failed} failed → ${options.out}\n`);
  return current.request_counts.failed > 0 ? 1 : 0;
}
