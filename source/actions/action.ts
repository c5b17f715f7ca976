// The Action interface moved to core/action.ts (pure: no I/O); kept here for the actions' imports.
export * from '../core/action.js';
