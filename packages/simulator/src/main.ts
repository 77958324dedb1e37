import { readSimulatorSettings, SimulatorEnvError, type SimulatorSettings } from './env.js';
import { createSimulator } from './server.js';

// One request's bug must not stop the simulator for every caller (an uncaught exception still ends it, as Node advises).
process.on('unhandledRejection', (reason) => console.error('simulator: unhandled promise rejection; serving on', reason));

let settings: SimulatorSettings;
try {
  settings = readSimulatorSettings(process.env);
} catch (error) {
  if (!(error instanceof SimulatorEnvError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const simulator = createSimulator(settings.options);
const url = await simulator.listen(settings.port, settings.host);
// Other processes wait for this exact line to learn the address.
console.log(`simulator listening on ${url}`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  simulator.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
