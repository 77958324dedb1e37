import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expressShapes } from './express-shapes.js';

describe('expressShapes', () => {
  it("gives requests and responses the app's prototypes from birth, so Express has none to swap, and the app works as before", async () => {
    const app = express();
    app.set('query parser', 'simple');
    const sub = express();
    sub.get('/inner', (req, res) => {
      res.json({ sub: true, q: req.query.q });
    });
    app.get('/x', (req, res) => {
      res.status(201).json({ q: req.query.q, path: req.path, ip: req.ip });
    });
    app.use('/sub', sub);
    const shapes = expressShapes(app);
    const born: boolean[] = [];
    const server = createServer(shapes, (req, res) => {
      born.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
      app(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answer = await fetch(`${base}/x?q=1`);
      expect(answer.status).toBe(201);
      expect(await answer.json()).toEqual({ q: '1', path: '/x', ip: '127.0.0.1' });
      expect(await (await fetch(`${base}/sub/inner?q=2`)).json()).toEqual({ sub: true, q: '2' });
      expect(await (await fetch(`${base}/x?q=3`)).json()).toMatchObject({ q: '3' });
      expect(born).toEqual([true, true, true]);
      expect(new shapes.IncomingMessage(null as never)).toBeInstanceOf(IncomingMessage);
      expect(shapes.ServerResponse.prototype).toBeInstanceOf(ServerResponse);
    } finally {
      server.close();
    }
  });
});
