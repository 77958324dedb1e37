import { SpoolError } from '@spool/contracts';

/** The root of the job repository's errors. */
export class JobsError extends SpoolError {}
