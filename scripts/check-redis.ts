/** `npm test` needs a Redis; say so in one line instead of letting every test time out. */
import { loadConfig } from '@spool/config';
import { redactUrl, redisAnswers } from '@spool/queue';

const { redisUrl } = loadConfig();
if (!(await redisAnswers(redisUrl, 3000))) {
  console.error(`npm test needs a Redis at ${redactUrl(redisUrl)} (REDIS_URL): start one with 'redis-server --daemonize yes' or set REDIS_URL.`);
  process.exit(1);
}
