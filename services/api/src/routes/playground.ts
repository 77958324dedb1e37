import { fileURLToPath } from 'node:url';
import { Router } from 'express';

const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** `GET /`: the playground, a static page and one script; no build step. */
export function playgroundRouter(): Router {
  const router = Router();
  const options = { root: PUBLIC_DIR, headers: { 'cache-control': 'no-cache' } };
  router.get('/', (_req, res) => res.sendFile('index.html', options));
  router.get('/playground.js', (_req, res) => res.sendFile('playground.js', options));
  router.get('/playground.css', (_req, res) => res.sendFile('playground.css', options));
  return router;
}
