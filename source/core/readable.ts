// A live value as the UI reads it (useSyncExternalStore's two methods): what every store is,
// and what a component is given. A type only.
export interface Readable<T> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): T;
}
