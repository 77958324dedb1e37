export { encodeEntry, encodeEvent, decodeEntry, decodeMessage, eventData, formatSse, sseBytes, streamedText } from './event-format.js';
export { EventLog } from './event-log.js';
export { EventHub, type EventListener } from './event-hub.js';
