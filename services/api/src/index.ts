export { createApp } from './app.js';
export { ApiServer, type ApiServerOptions } from './server.js';
export type { AppDeps } from './deps.js';
