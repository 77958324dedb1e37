import { Command, InvalidArgumentError } from 'commander';
import { CliError, SpoolClient } from './client.js';
import { batch, submit, watch, type Output } from './commands.js';

const output: Output = {
  write: (text) => process.stdout.write(text),
  error: (text) => process.stderr.write(text),
};

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number');
  return parsed;
}

const program = new Command('spool')
  .description('Submit, watch and batch LLM chat jobs on a Spool server')
  .option('--url <url>', 'Spool API base URL (env SPOOL_URL)', process.env.SPOOL_URL ?? 'http://127.0.0.1:3000')
  .option('--key <key>', 'API key (env SPOOL_API_KEY)', process.env.SPOOL_API_KEY);

const client = () => {
  const options = program.opts<{ url: string; key?: string }>();
  return new SpoolClient({ url: options.url, key: options.key });
};

async function run(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    process.stderr.write(`spool: ${error.message}\n`);
    process.exitCode = 2;
  }
}

program
  .command('submit')
  .description('submit a prompt and print the reply')
  .argument('<prompt>')
  .option('-m, --model <model>', 'model')
  .option('-s, --stream', 'print tokens as they come')
  .option('--max-tokens <n>', 'reply budget', positiveInt)
  .option('--priority <n>', '1 (first) .. 10 (last)', positiveInt)
  .action((prompt: string, options) => run(() => submit(client(), prompt, options, output)));

program
  .command('watch')
  .description("print a job's stream, from the start or after an event id")
  .argument('<job>')
  .option('--after <id>', 'resume after this event id', positiveInt)
  .action((jobId: string, options) => run(() => watch(client(), jobId, options, output)));

program
  .command('batch')
  .description('submit a JSONL batch file, show progress, write the results')
  .argument('<file>')
  .requiredOption('-o, --out <file>', 'where to write the results (JSONL)')
  .action((file: string, options) => run(() => batch(client(), file, options, output)));

await program.parseAsync();
