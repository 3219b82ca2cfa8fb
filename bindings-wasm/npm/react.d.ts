// bangui-state/react: the hook over a LiveMachine (connect() from "bangui-state").
// Needs React 18 or later (useSyncExternalStore); its types need no React types.
import type { LiveMachine, LiveSnapshot } from './index.js';

/** What the hook reads: a LiveMachine, or anything with the same two members. */
export type LiveSource = Pick<LiveMachine, 'getSnapshot' | 'subscribe'>;

/** The connection's snapshot; the component renders again whenever it changes. */
export declare function useBanguiState(connection: LiveSource): LiveSnapshot;
/**
 * What `selector` picks from the snapshot; the component renders again only
 * when that changes (`Object.is`, or `isEqual` when given: for selectors that
 * build a new object or array each time).
 */
export declare function useBanguiState<T>(
  connection: LiveSource,
  selector: (snapshot: LiveSnapshot) => T,
  isEqual?: (previous: T, next: T) => boolean,
): T;
