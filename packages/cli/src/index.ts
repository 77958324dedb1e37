export { SpoolClient, CliError, type ClientOptions, type StreamEvent } from './client.js';
export { submit, watch, batch, type Output } from './commands.js';
