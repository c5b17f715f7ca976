// The Emitter moved to core/emitter.ts (the NATS link adapter uses it too); kept for the stores.
export { Emitter } from '../core/emitter.js';
