// A live value as the UI reads it (useSyncExternalStore's two methods): what every store is,
// and what a component is given. A type only. Members are function-valued properties, not
// methods: React calls them unbound, so an implementation must not depend on `this`.
export interface Readable<T> {
  subscribe: (listener: () => void) => () => void;
  getSnapshot: () => T;
}
