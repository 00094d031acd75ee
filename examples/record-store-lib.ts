/**
 * The record store's parts shared by its main program and its reader workers: the record
 * layout, the names, and what the processes and workers report.
 */

/** A player record. */
export const fieldsOfPlayer = { id: 'u32', score: 'f64', name: { string: 16 } } as const;

/** A short name per id (at most 16 bytes). */
export function nameOf(id: number): string {
  return `player-${id.toString(36)}`;
}

/** What one reader worker reports. */
export interface ReaderRun {
  ms: number;
  lookups: number;
  /** Records reached that were not the one looked up (torn or reused). */
  bad: number;
}

/** One phase's figures. */
export interface PhaseResult {
  name: string;
  count: number;
  ms: number;
  perSecond: number;
}

/** What one store's process reports. */
export interface StoreResult {
  store: 'map' | 'offheap';
  records: number;
  phases: PhaseResult[];
  rssPerRecord: number;
  heapPerRecord: number;
  rssGrowth: number;
  heapGrowth: number;
  rssEnd: number;
  gcTotalMs: number;
  gcMaxMs: number;
  gcCount: number;
  readers: { workers: number; perSecond: number; lookups: number; bad: number; setupMs: number } | null;
  stats: Record<string, unknown>;
  statsText?: string;
  heapMap: string;
  sink: number;
}
