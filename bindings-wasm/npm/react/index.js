// bangui-state/react: a LiveMachine (connect() from "bangui-state") read by
// React components through useSyncExternalStore. React (18 or later) is an
// optional peer dependency: only this entry imports it (build.sh makes its
// CommonJS twin, index.cjs).
import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';

/**
 * The connection's snapshot (`{status, state, revision, effectiveSettings,
 * nextDeadline, error}`), or what `selector` picks from it. The component
 * renders again only when that changes: the snapshot object (it is the same
 * object until something in it changes), or, with a selector, its result by
 * `Object.is` (or by `isEqual`, for selectors that build new objects).
 */
export function useBanguiState(connection, selector, isEqual) {
  const rendered = useRef(null); // {value}: the selection last rendered, for isEqual
  const getSelection = useMemo(() => {
    if (selector === undefined) return connection.getSnapshot;
    let memoized = false;
    let memoSnapshot;
    let memoSelection;
    return () => {
      const snapshot = connection.getSnapshot();
      if (memoized && Object.is(snapshot, memoSnapshot)) return memoSelection;
      let selection = selector(snapshot);
      const previous = memoized ? { value: memoSelection } : rendered.current;
      if (previous !== null && isEqual !== undefined && isEqual(previous.value, selection)) selection = previous.value;
      memoized = true;
      memoSnapshot = snapshot;
      memoSelection = selection;
      return selection;
    };
  }, [connection, selector, isEqual]);
  const value = useSyncExternalStore(connection.subscribe, getSelection, getSelection);
  useEffect(() => {
    rendered.current = { value };
  }, [value]);
  return value;
}
