// Every live source is read through this: one subscription, torn down with the component.
import { useSyncExternalStore } from 'react';

export interface Readable<T> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): T;
}

export const useStore = <T>(store: Readable<T>): T =>
  useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
