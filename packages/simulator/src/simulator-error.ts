import { SpoolError } from '@spool/contracts';

/** The root of the simulator's errors. */
export class SimulatorError extends SpoolError {}
