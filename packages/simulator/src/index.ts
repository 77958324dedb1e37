export { createSimulator, MODELS, type Simulator, type SimulatorOptions, type SimulatorStats } from './server.js';
export { simulateReply, type ReplyRequest, type SimulatedReply } from './reply.js';
export { SimulatorError } from './simulator-error.js';
export { parseDirective, findDirective, DirectiveError, type Directive, type BatchFault } from './directives.js';
export { formatDuration } from './rate-limit.js';
export { readSimulatorSettings, SimulatorEnvError, type SimulatorSettings } from './env.js';
export { countPromptTokens, messageText, type ChatMessage, type ContentPart } from './messages.js';
