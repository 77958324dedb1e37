import { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

/** A subclass of `base` that carries `prototype`'s own properties and inherits what `prototype` inherits: it can stand in for it. */
function standIn<T extends typeof IncomingMessage | typeof ServerResponse>(base: T, prototype: object): T {
  const StandIn = class extends (base as typeof IncomingMessage) {} as unknown as T;
  Object.setPrototypeOf(StandIn.prototype, Object.getPrototypeOf(prototype));
  Object.defineProperties(StandIn.prototype, Object.getOwnPropertyDescriptors(prototype));
  return StandIn;
}

/**
 * Request and response classes for `http.createServer` whose objects are born with `app`'s own
 * prototypes (which become theirs). Express otherwise swaps each request's and response's prototype
 * (`Object.setPrototypeOf`), after which V8 gives every such object hidden classes of its own:
 * about 2 KB more per request held (an SSE stream holds its pair for hours) and megamorphic
 * property access throughout. Born with the right prototype, the swap does nothing and all
 * requests share their shapes. Call before the app serves anything.
 */
export function expressShapes(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
  const Request = standIn(IncomingMessage, app.request);
  const Response = standIn(ServerResponse, app.response);
  app.request = Request.prototype as Express['request'];
  app.response = Response.prototype as Express['response'];
  return { IncomingMessage: Request, ServerResponse: Response };
}
