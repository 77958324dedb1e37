import { ApiError } from '@spool/contracts';
import { StoreUnavailableError } from '@spool/store';

/** A store call as the client sees it: 503 while the store cannot be reached, other errors as they are. */
export async function fromStore<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw ApiError.unavailable('The store is unavailable; try again shortly');
    throw error;
  }
}
