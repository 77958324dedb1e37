import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../scripts/free-port.js';

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && !taken.has(port) && (await portIsFree(port + 10_000))) return port;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function clusterStateOk(port: number): Promise<boolean> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return ((await probe.cluster('INFO')) as string).includes('cluster_state:ok');
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A Redis Cluster of `masters` local redis-server processes, no replicas, in memory only, on
 * loopback and free ports: what `npm test` runs the core end-to-end tests on.
 */
export class LocalRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly dir: string,
    private readonly processes: ChildProcess[],
  ) {}

  static async start(masters = 3): Promise<LocalRedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'spool-cluster-'));
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await freeClusterPort(new Set(ports)));
    const processes = ports.map((port) =>
      spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
          '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new LocalRedisCluster(ports, dir, processes);
    try {
      for (const port of ports) await until(() => answers(port), `redis-server on ${port} did not start`);
      const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      for (const port of ports) await until(() => clusterStateOk(port), `node ${port} did not report cluster_state:ok`);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Spool's URL for it: `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` */
  get url(): string {
    return `redis+cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}
